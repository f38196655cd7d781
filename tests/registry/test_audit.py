"""The audit chain notices a row edited, deleted or appended behind the services' back."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from chanlian.core.audit import verify
from chanlian.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_services_leave_an_intact_chain(world):
    result = verify()
    assert result.ok, result
    assert result.checked == AuditEntry.objects.count() > 10
    call_command("audit_verify")


def test_editing_a_row_in_the_database_is_detected(world, api):
    victim = AuditEntry.objects.order_by("seq")[5]
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {AuditEntry._meta.db_table} SET action = %s WHERE id = %s", ["cluster.delete", victim.id]
        )
    result = verify()
    assert not result.ok and result.broken_seq == victim.seq
    with pytest.raises(CommandError, match=f"#{victim.seq}"):
        call_command("audit_verify")
    r = api("admin").get("/api/v1/audit/verify/")
    assert r.json()["ok"] is False and r.json()["broken_seq"] == victim.seq
    assert api("operator").get("/api/v1/audit/verify/").status_code == 403


def test_editing_the_data_json_is_detected(world):
    victim = AuditEntry.objects.filter(action="enterprise.register").order_by("seq").first()
    data = dict(victim.data)
    data["after"]["name"] = "别人的公司"
    AuditEntry.objects.filter(pk=victim.pk).update(data=data)
    assert verify().broken_seq == victim.seq


def test_deleting_a_row_is_detected(world):
    victim = AuditEntry.objects.order_by("seq")[3]
    AuditEntry.objects.filter(pk=victim.pk).delete()
    result = verify()
    assert not result.ok and result.broken_seq == victim.seq


def test_truncating_the_tail_is_detected(world):
    last = AuditEntry.objects.order_by("-seq").first()
    AuditEntry.objects.filter(pk=last.pk).delete()
    result = verify()
    assert not result.ok and "head" in result.reason


def test_a_refused_write_leaves_no_entry(world, api):
    before = AuditEntry.objects.count()
    api("nobody").post(
        "/api/v1/enterprises/", {"name": "x", "uscc": "bad", "region": "350524"}, format="json"
    )
    assert AuditEntry.objects.count() == before
