"""The audit chain notices a row edited, deleted or appended behind the services' back."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from chanlian.core.audit import heads_digest, verify
from chanlian.core.models import AuditEntry, AuditHead

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


# ---------------------------------------------------------------------------------- several chains


def _append_to_chain(monkeypatch, chain):
    """Make ``record`` append to ``chain`` (on PostgreSQL the transaction id picks it; a test transaction
    has one id, and SQLite has one chain). The tests use chains above ``AUDIT_CHAINS`` (16), which the
    world's own entries never land in."""
    from chanlian.core import audit

    def lock_chain(db=None):
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=chain)
        return head.id, head.seq, head.hash

    monkeypatch.setattr(audit, "lock_head", lock_chain)


def _write(user, n, tag):
    from chanlian.core import audit

    with transaction.atomic():
        for i in range(n):
            audit.record(user, "test.write", object_type="test", object_id=f"{tag}{i}", after={"i": i})


def test_several_chains_verify_each_and_name_the_broken_one(world, monkeypatch):
    user = world.users["admin"]
    for chain, n in ((107, 5), (109, 3)):
        _append_to_chain(monkeypatch, chain)
        _write(user, n, f"c{chain}-")
    result = verify()
    assert result.ok, result
    assert result.checked == AuditEntry.objects.count()
    assert result.heads[107][0] == 5 and result.heads[109][0] == 3
    assert sorted(AuditEntry.objects.filter(chain=109).values_list("seq", flat=True)) == [1, 2, 3]

    victim = AuditEntry.objects.get(chain=109, seq=2)
    AuditEntry.objects.filter(pk=victim.pk).update(object_id="forged")
    result = verify()
    assert not result.ok and (result.broken_chain, result.broken_seq) == (109, 2), result
    assert "edited" in result.reason
    with pytest.raises(CommandError, match="chain 109 broken at entry #2"):
        call_command("audit_verify")


def test_moving_an_entry_to_another_chain_is_detected(world, monkeypatch):
    user = world.users["admin"]
    for chain in (107, 109):
        _append_to_chain(monkeypatch, chain)
        _write(user, 3, f"c{chain}-")
    assert verify().ok
    last = AuditEntry.objects.get(chain=107, seq=3)
    AuditEntry.objects.filter(pk=last.pk).update(chain=109, seq=4)  # its hash still links to chain 107's #2
    result = verify()
    assert not result.ok and result.broken_chain == 107 and "head" in result.reason, result


def test_truncating_one_chain_is_detected(world, monkeypatch):
    _append_to_chain(monkeypatch, 107)
    _write(world.users["admin"], 4, "t")
    AuditEntry.objects.filter(chain=107, seq=4).delete()
    result = verify()
    assert not result.ok and result.broken_chain == 107 and "head" in result.reason


def test_the_heads_digest_covers_every_chain(world, monkeypatch, api):
    before = verify()
    assert before.ok
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert f"heads digest: {heads_digest(before.heads)}" in out.getvalue()
    _append_to_chain(monkeypatch, 111)
    _write(world.users["admin"], 1, "d")
    after = verify()
    assert after.ok and heads_digest(after.heads) != heads_digest(before.heads)
    assert after.heads[111] == (1, AuditEntry.objects.get(chain=111).hash)
    body = api("admin").get("/api/v1/audit/verify/").json()
    assert body["ok"] is True and body["digest"] == heads_digest(after.heads)
    assert {"chain": 111, "seq": 1, "hash": after.heads[111][1]} in body["chains"]
    # an empty head (a chain no transaction has used yet) does not change the digest
    AuditHead.objects.get_or_create(id=115)
    assert heads_digest(verify().heads) == heads_digest(after.heads)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_transaction_appends_to_the_chain_of_its_id(world, settings):
    from chanlian.core import audit

    settings.AUDIT_CHAINS = 16
    with transaction.atomic():
        chain, _, _ = audit.lock_head()
        entry = audit.record(world.users["admin"], "test.write", object_type="test", object_id="x")
        again = audit.record(world.users["admin"], "test.write", object_type="test", object_id="y")
        with connection.cursor() as cur:
            cur.execute("SELECT pg_current_xact_id()::text::bigint")
            xid = cur.fetchone()[0]
    assert chain == entry.chain == again.chain == xid % 16 + 1
    assert again.seq == entry.seq + 1 and again.prev_hash == entry.hash
    assert verify().ok
