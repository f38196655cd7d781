"""The cast of the tests: real enterprises with valid USCCs, made through the registry's services.

tea cluster (安溪县 350524, pack ``tea``), operated by 安溪茶业集团 (user ``operator``):
  ``supplier`` admin of 祥华茶厂 (verified), ``supplier_staff`` staff there, ``supplier_viewer`` viewer;
  ``buyer`` admin of 上海茶商 (verified, from 上海浦东);
  ``pending`` admin of 新茶农合作社 (pending);
  ``gov`` 安溪县工业和信息化局 (government, oversees tea); ``lender`` 泉州银行 (verified member).
steel cluster (兴化市 321281, pack ``stainless``), operated by 戴南不锈钢公司 (user ``steel_operator``):
  ``outsider`` admin of 兴化不锈钢管厂 (verified in steel only).
``nobody``: a signed-in user with no enterprise. ``admin``: platform admin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from chanlian.registry import services
from chanlian.registry.uscc import make as make_uscc

PASSWORD = "persona-pass-2026"


@dataclass
class World:
    users: dict = field(default_factory=dict)
    enterprises: dict = field(default_factory=dict)
    clusters: dict = field(default_factory=dict)


def _user(world: World, name: str, **extra):
    user = get_user_model().objects.create_user(username=name, password=PASSWORD, **extra)
    world.users[name] = user
    return user


def _enterprise(world, key, user, name, region, body, cluster=None, roles=(), kind="company", by=None):
    enterprise = services.register_enterprise(
        by or user,
        uscc=make_uscc(region, body),
        name=name,
        region=region,
        kind=kind,
        cluster=cluster.pk if cluster else None,
        chain_roles=list(roles),
        contact_phone="0595-23456789",
        contact_name="联系人",
        admin_user=user,
    )
    world.enterprises[key] = enterprise
    return enterprise


def build_world() -> World:
    w = World()
    admin = _user(w, "admin", is_superuser=True, is_staff=True)
    operator = _user(w, "operator")
    tea_op = _enterprise(w, "tea_operator", operator, "安溪茶业集团有限公司", "350524", "10000001")
    w.clusters["tea"] = services.create_cluster(
        admin, name="安溪铁观音产业集群", region="350524", pack_key="tea", operator=tea_op.pk
    )
    steel_operator = _user(w, "steel_operator")
    steel_op = _enterprise(
        w, "steel_operator", steel_operator, "兴化市戴南不锈钢产业发展有限公司", "321281", "10000002"
    )
    w.clusters["steel"] = services.create_cluster(
        admin, name="戴南不锈钢制品产业集群", region="321281", pack_key="stainless", operator=steel_op.pk
    )
    tea, steel = w.clusters["tea"], w.clusters["steel"]
    tea_stages = tea.pack.stage_keys()
    steel_stages = steel.pack.stage_keys()

    _enterprise(
        w, "supplier", _user(w, "supplier"), "安溪县祥华茶厂", "350524", "10000003", tea, tea_stages[:2]
    )
    _enterprise(
        w, "buyer", _user(w, "buyer"), "上海茶商贸易有限公司", "310115", "10000004", tea, tea_stages[-1:]
    )
    _enterprise(
        w, "pending", _user(w, "pending"), "安溪县新茶农专业合作社", "350524", "10000005", tea, tea_stages[:1]
    )
    _enterprise(
        w, "outsider", _user(w, "outsider"), "兴化市不锈钢管厂", "321281", "10000006", steel, steel_stages[:1]
    )
    _enterprise(
        w, "gov", _user(w, "gov"), "安溪县工业和信息化局", "350524", "10000007", kind="government", by=admin
    )
    _enterprise(
        w,
        "lender",
        _user(w, "lender"),
        "泉州银行股份有限公司安溪支行",
        "350524",
        "10000008",
        tea,
        kind="lender",
        by=admin,
    )
    _user(w, "nobody")
    services.update_cluster(admin, tea, government_bodies=[w.enterprises["gov"].pk])

    for key in ("supplier", "buyer", "lender"):
        services.verify_membership(operator, w.enterprises[key].pk, cluster_id=tea.pk)
    services.verify_membership(steel_operator, w.enterprises["outsider"].pk, cluster_id=steel.pk)

    supplier = w.enterprises["supplier"]
    for name, role in (("supplier_staff", "staff"), ("supplier_viewer", "viewer")):
        invitation = services.invite_user(w.users["supplier"], supplier.pk, role=role)
        services.accept_invitation(_user(w, name), invitation.token)
    # The world was built by several actors; nobody's cached principal may outlive it.
    for user in w.users.values():
        user.__dict__.pop("_chanlian_principal", None)
    return w
