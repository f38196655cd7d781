"""Lending test steps (no tests here): a lender with a maker and a checker, a discount product, a credit
line, a consent, and a voucher part held by a tier-2 supplier — all through the real services — plus
``later(days)``, which moves the clock forward for maturity.

Stable names: ``LendingWorld``, ``lending_world(world, **over)``, ``apply(lw)``, ``approved(lw)``,
``disbursed(lw)``, ``later(days)``, ``new_lender(world, i)``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from unittest import mock

from django.contrib.auth import get_user_model
from django.utils import timezone

from chanlian.finance import lending, services
from chanlian.registry import services as registry
from chanlian.registry.uscc import make as make_uscc
from tests.finance.helpers import confirmed_voucher, tier2
from tests.personas import PASSWORD

FACE = "12000.00"
REST = "24000.00"


@contextlib.contextmanager
def later(days: int):
    """Every ``timezone.now()`` (and so ``localdate()``, auto_now fields, ledger times) is ``days`` later."""
    real = timezone.now
    with mock.patch("django.utils.timezone.now", lambda: real() + dt.timedelta(days=days)):
        yield


def _forget(world):
    for user in world.users.values():
        user.__dict__.pop("_chanlian_principal", None)


def add_checker(world, lender_key="lender", name="lender_checker"):
    """A second lender user (staff): the checker."""
    user = get_user_model().objects.create_user(username=name, password=PASSWORD)
    invitation = registry.invite_user(world.users[lender_key], world.enterprises[lender_key].pk, role="staff")
    registry.accept_invitation(user, invitation.token)
    world.users[name] = user
    _forget(world)
    return user


def new_lender(world, i: int):
    """Another lender ``lender{i}`` (admin user ``lender{i}``, staff ``lender{i}_checker``), a verified member
    of the tea cluster."""
    User = get_user_model()
    key = f"lender{i}"
    admin = User.objects.create_user(username=key, password=PASSWORD)
    lender = registry.register_enterprise(
        world.users["admin"],
        uscc=make_uscc("350524", f"3{i:07d}"),
        name=f"测试银行{i}安溪支行",
        region="350524",
        kind="lender",
        cluster=world.clusters["tea"].pk,
        contact_phone="0595-23456789",
        contact_name="联系人",
        admin_user=admin,
    )
    registry.verify_membership(world.users["operator"], lender.pk, cluster_id=world.clusters["tea"].pk)
    world.users[key] = admin
    world.enterprises[key] = lender
    _forget(world)
    add_checker(world, key, f"{key}_checker")
    return lender


@dataclass
class LendingWorld:
    world: object
    root: object  # the issued voucher, 36,000.00
    part: object  # 12,000.00, held by the tier-2 supplier (rival)
    rest: object  # 24,000.00, held by the supplier
    rival: object
    lender: object
    product: object
    line: object
    consent: object

    @property
    def users(self):
        return self.world.users


def setup_lender(world, key="lender", *, limit="50000.00", day_count="act_360", rate="0.0435", fee="0.001"):
    u = world.users
    tea = world.clusters["tea"]
    lender = world.enterprises[key]
    product = lending.create_product(
        u[key],
        lender=lender.pk,
        name="凭证贴现",
        kind="discount",
        day_count=day_count,
        annual_rate=rate,
        fee_rate=fee,
        max_tenor_days=180,
        min_amount="1000.00",
        max_amount="1000000.00",
        clusters=[tea.pk],
    )
    line = lending.open_credit_line(
        u[key],
        lender=lender.pk,
        enterprise=world.enterprises["rival"].pk,
        limit=limit,
        expires_on=timezone.localdate() + dt.timedelta(days=365),
    )
    consent = lending.grant_consent(
        u["rival"],
        enterprise=world.enterprises["rival"].pk,
        lender=lender.pk,
        cluster=tea.pk,
        scope=["orders", "fulfilment", "asset", "risk"],
        valid_until=timezone.localdate() + dt.timedelta(days=90),
    )
    return product, line, consent


def lending_world(world, **over) -> LendingWorld:
    """The supplier's voucher (36,000.00, maturing in 30 days) is split 12,000 / 24,000; the 12,000 part is
    passed to the tier-2 supplier ``rival``, who accepts it. The lender (maker ``lender``, checker
    ``lender_checker``) offers a discount product (act/360, 4.35 %, fee 0.1 %), grants ``rival`` a line of
    50,000.00, and ``rival`` consents to the lender reading its package."""
    root = confirmed_voucher(world)
    rival = tier2(world)
    u = world.users
    part, rest = services.split_voucher(u["supplier"], root.pk, amounts=[FACE, REST])
    services.transfer_voucher(u["supplier"], part.pk, to_enterprise=rival.pk)
    services.accept_voucher_transfer(u["rival"], part.pk)
    if "lender_checker" not in u:
        add_checker(world)
    product, line, consent = setup_lender(world, **over)
    return LendingWorld(world, root, part, rest, rival, world.enterprises["lender"], product, line, consent)


def apply(lw: LendingWorld, product=None):
    app = lending.create_application(
        lw.users["rival"], product=(product or lw.product).pk, voucher=lw.part.pk
    )
    return lending.submit_application(lw.users["rival"], app.pk)


def approved(lw: LendingWorld):
    app = apply(lw)
    lending.start_review(lw.users["lender"], app.pk)
    return lending.approve_application(lw.users["lender"], app.pk)


def disbursed(lw: LendingWorld):
    app = approved(lw)
    lending.check_application(lw.users["lender_checker"], app.pk)
    return lending.disburse_application(lw.users["lender_checker"], app.pk, bank_reference="LN0001")
