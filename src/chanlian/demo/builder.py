"""The demo clusters, built through the real services with a fixed seed (same seed, same data).

安溪县 (350524) tea cluster with ~200 enterprises across the chain and buyers from other provinces;
兴化市 (321281) stainless-steel cluster; 寿光市 (370783) vegetables cluster; a bank; a county bureau.
Demo logins exist only here, never in a production install.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from chanlian.registry import services
from chanlian.registry.models import Cluster, Enterprise, Membership
from chanlian.registry.uscc import make as make_uscc

from . import finance as _finance
from . import history as _history
from .clock import SimClock, simulated
from .sim import Sim

PASSWORD = "chanlian-demo"
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"
SEED = 2026
TEA_CLUSTER = "安溪铁观音产业集群"

LOGINS = [
    ("admin", "platform admin · 平台管理员"),
    ("operator", "operator of the 安溪 tea cluster · 茶产业集群运营方"),
    ("supplier", "admin of a verified tea factory · 供应商企业管理员"),
    ("buyer", "admin of a tea buyer in Shanghai · 采购商企业管理员"),
    ("lender", "a bank · 金融机构"),
    ("gov", "安溪县 government viewer · 政府观察员"),
]

ANXI_TOWNS = [
    "感德镇",
    "西坪镇",
    "祥华乡",
    "龙涓乡",
    "虎邱镇",
    "长坑乡",
    "剑斗镇",
    "蓬莱镇",
    "芦田镇",
    "大坪乡",
    "金谷镇",
    "湖头镇",
    "尚卿乡",
    "桃舟乡",
    "福田乡",
]
SURNAMES = [
    "王",
    "陈",
    "林",
    "黄",
    "张",
    "李",
    "吴",
    "刘",
    "蔡",
    "郑",
    "谢",
    "苏",
    "高",
    "周",
    "许",
    "洪",
    "詹",
    "魏",
    "叶",
    "施",
]
WORDS = [
    "兴",
    "茗",
    "源",
    "丰",
    "华",
    "润",
    "德",
    "祥",
    "福",
    "鑫",
    "盛",
    "隆",
    "信",
    "和",
    "泰",
    "嘉",
    "恒",
    "宏",
    "瑞",
    "达",
    "韵",
    "香",
    "山",
    "岩",
    "春",
    "秋",
    "云",
    "青",
]
# (region code, city label) of buyers' counties across China: the market is national (双循环).
BUYER_COUNTIES = [
    ("310115", "上海"),
    ("110105", "北京"),
    ("440106", "广州"),
    ("440304", "深圳"),
    ("350203", "厦门"),
    ("350102", "福州"),
    ("330106", "杭州"),
    ("370102", "济南"),
    ("420106", "武汉"),
    ("510107", "成都"),
    ("500103", "重庆"),
    ("610113", "西安"),
    ("210202", "大连"),
    ("120101", "天津"),
    ("330212", "宁波"),
]
NEARBY = ["350583", "350582", "350500"]  # 南安, 晋江, 泉州 (city-level)


@dataclass
class _Counter:
    n: int = 0

    def next(self) -> str:
        self.n += 1
        return f"{self.n:08d}"


def _name(rng: random.Random, used: set[str], pattern: str) -> str:
    while True:
        name = pattern.format(
            s=rng.choice(SURNAMES), w=rng.choice(WORDS) + rng.choice(WORDS), t=rng.choice(ANXI_TOWNS)
        )
        if name not in used:
            used.add(name)
            return name


def _user(username: str, *, superuser: bool = False, login: bool = True, created: list | None = None):
    """A demo user; only the listed demo logins get the demo password (hashing is slow by design)."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, is_superuser=superuser, is_staff=superuser)
        if login:
            user.set_password(PASSWORD)
        else:
            user.set_unusable_password()
        user.save()
        if login and created is not None:
            created.append(user)
    return user


# The first code the builder hands out goes to the tea cluster's operator: the demo's own fingerprint.
DEMO_OPERATOR_USCC = make_uscc("350524", "00000001")


def already_loaded() -> bool:
    return Cluster.objects.filter(name=TEA_CLUSTER, operator__uscc=DEMO_OPERATOR_USCC).exists()


# The history covers the year before today; the registry part happens a few weeks before it starts.
HISTORY_DAYS = 365
ONBOARDING_DAYS = 20


@transaction.atomic
def build(stdout=None, *, history: bool = True) -> dict:
    """Build the demo (``history=False``: only the clusters, enterprises and logins — for tests that do
    not need the year of trade). Everything happens on a simulated clock (``demo/clock.py``) that ends
    at the real time now, so the rows the services write carry the times of the story they tell."""
    real_now = timezone.now()
    local_today = timezone.localtime(real_now).date()
    tz = timezone.get_current_timezone()
    start = datetime.combine(local_today - timedelta(days=HISTORY_DAYS), time(8, 0), tzinfo=tz)
    end = real_now - timedelta(minutes=1)
    clock = SimClock(start - timedelta(days=ONBOARDING_DAYS), ceiling=end)
    created: list = []
    # Contracts are signed with the password re-entered: a fast hasher while building (hundreds of
    # signatures), then the demo logins get their real hash and the others no usable password.
    with override_settings(PASSWORD_HASHERS=[FAST_HASHER]), simulated(clock):
        summary = _build(clock, start, end, created, history)
    for user in created:
        if user.has_usable_password():
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
    return summary


def _build(clock, start, end, created, history) -> dict:
    def user_(username, **kw):
        return _user(username, created=created, **kw)

    rng = random.Random(SEED)
    codes = _Counter()
    used: set[str] = set()
    admin = user_("admin", superuser=True)

    def register(
        user,
        name,
        region,
        *,
        cluster=None,
        stages=(),
        kind="company",
        authority="9",
        etype="1",
        description="",
        phone=None,
    ):
        first = make_uscc(region, codes.next(), authority=authority, entity_type=etype)
        return services.register_enterprise(
            admin if kind != "company" else user,
            uscc=first,
            name=name,
            region=region,
            kind=kind,
            cluster=cluster.pk if cluster else None,
            chain_roles=list(stages),
            description=description,
            contact_name=rng.choice(SURNAMES) + rng.choice(["先生", "女士", "经理"]),
            contact_phone=phone or f"1{rng.choice('358')}{rng.randrange(10**8, 10**9)}",
            admin_user=user,
        )

    # ---- 安溪 tea
    operator = user_("operator")
    tea_operator = register(
        operator,
        "安溪县茶产业发展集团有限公司",
        "350524",
        description="安溪铁观音产业互联网平台运营方，负责企业认证、品类规范与价格指数发布。",
    )
    tea = services.create_cluster(
        admin,
        name=TEA_CLUSTER,
        region="350524",
        pack_key="tea",
        operator=tea_operator.pk,
        description="安溪县铁观音全产业链：茶园种植、初制、精制拼配、品牌营销与全国流通。",
    )
    chain = list(
        tea.pack.stage_keys("chain")
    )  # planting, primary processing, refining, blending, wholesale, retail
    inputs, services_ = list(tea.pack.stage_keys("input")), list(tea.pack.stage_keys("service"))
    gov_user = user_("gov")
    gov = register(
        gov_user,
        "安溪县工业和信息化局",
        "350524",
        kind="government",
        authority="1",
        etype="1",
        description="县级产业主管部门（只读数据驾驶舱）。",
    )
    services.update_cluster(admin, tea, government_bodies=[gov.pk])
    lender_user = user_("lender")
    bank = register(
        lender_user,
        "闽南产业银行股份有限公司安溪支行",
        "350524",
        kind="lender",
        cluster=tea,
        description="为集群内中小企业提供基于真实交易的供应链金融服务。",
    )
    supplier_user = user_("supplier")
    supplier = register(
        supplier_user,
        "安溪县祥华乡华韵茶厂",
        "350524",
        cluster=tea,
        stages=chain[1:3],
        description="祥华乡高山茶园，清香型铁观音初制与精制。",
    )
    buyer_user = user_("buyer")
    buyer = register(
        buyer_user,
        "上海茗源茶叶贸易有限公司",
        "310115",
        cluster=tea,
        stages=chain[-2:],
        description="华东地区茶叶批发与连锁门店。",
    )
    decided = [bank, supplier, buyer]
    pending, rejected = [], []
    # growers, processors and packers in the county's towns; buyers and traders across the country
    for i in range(196):
        owner = user_(f"tea{i + 1:03d}", login=False)
        roll = rng.random()
        if roll < 0.33:
            name = _name(rng, used, "安溪县{t}{s}{w}茶叶专业合作社")
            region, roles = "350524", chain[:1] + ([chain[1]] if rng.random() < 0.5 else [])
        elif roll < 0.58:
            name = _name(rng, used, "安溪县{t}{w}茶厂")
            region, roles = "350524", chain[1 : 2 + rng.randrange(2)]
        elif roll < 0.68:
            name = _name(rng, used, "泉州{w}茶业有限公司")
            region, roles = rng.choice(NEARBY), chain[3:5]
        elif roll < 0.90:
            code, city = rng.choice(BUYER_COUNTIES)
            name = _name(rng, used, city + "{w}茶业有限公司")
            region, roles = code, chain[-2:] if rng.random() < 0.5 else chain[-1:]
        else:
            stage = rng.choice(inputs + services_)
            kind_name = {
                "farm_inputs": "农资",
                "machinery": "茶叶机械",
                "packaging_materials": "包装材料",
                "inspection": "检测技术",
                "logistics": "物流",
            }.get(stage, "服务")
            name = _name(rng, used, "安溪县{w}" + kind_name + "有限公司")
            region, roles = "350524", [stage]
        e = register(owner, name, region, cluster=tea, stages=roles)
        fate = rng.random()
        (pending if fate < 0.06 else rejected if fate < 0.08 else decided).append(e)
    for e in decided:
        services.verify_membership(operator, e.pk, cluster_id=tea.pk)
    for e in rejected:
        services.reject_membership(
            operator, e.pk, cluster_id=tea.pk, reason="营业执照信息与统一社会信用代码不一致"
        )
    # supplier invites a staff member
    staff = user_("supplier_staff")
    services.accept_invitation(staff, services.invite_user(supplier_user, supplier.pk, role="staff").token)

    # ---- 兴化 (戴南) stainless steel and 寿光 vegetables: smaller clusters of the same shape
    side_clusters = [
        (
            "steel",
            "321281",
            "stainless",
            "戴南不锈钢制品产业集群",
            "兴化市戴南不锈钢产业发展有限公司",
            "戴南镇不锈钢冶炼、轧制、制管与制品加工集群。",
            "兴化市{w}不锈钢制品有限公司",
            40,
        ),
        (
            "veg",
            "370783",
            "vegetables",
            "寿光蔬菜产业集群",
            "寿光市蔬菜产业发展集团有限公司",
            "设施蔬菜种植、育苗、分级包装与冷链批发。",
            "寿光市{w}果蔬专业合作社",
            30,
        ),
    ]
    side = {}
    for prefix, county, pack_key, name, operator_name, description, member_pattern, members in side_clusters:
        op_user = user_(f"{prefix}_operator")
        cluster = services.create_cluster(
            admin,
            name=name,
            region=county,
            pack_key=pack_key,
            operator=register(op_user, operator_name, county).pk,
            description=description,
        )
        side[pack_key] = (cluster, op_user)
        chain_stages = list(cluster.pack.stage_keys("chain"))
        for i in range(members):
            e = register(
                user_(f"{prefix}{i + 1:03d}", login=False),
                _name(rng, used, member_pattern),
                county,
                cluster=cluster,
                stages=chain_stages[rng.randrange(len(chain_stages)) :][:2],
            )
            if rng.random() < 0.9:
                services.verify_membership(op_user, e.pk, cluster_id=cluster.pk)

    summary = {}
    if history:
        sim = Sim(clock, end)
        _finance.schedule(
            sim,
            tea=tea,
            bank=bank,
            lender_user=lender_user,
            operator_user=operator,
            supplier=supplier,
            supplier_user=supplier_user,
            new_login=lambda username: user_(username),
            persona_pw=PASSWORD,
        )
        summary["trade"] = _history.build_history(
            _history.World(
                tea=tea,
                tea_operator_user=operator,
                supplier=supplier,
                supplier_user=supplier_user,
                supplier_staff=staff,
                buyer=buyer,
                buyer_user=buyer_user,
                tea_members=decided,
                side=side,
            ),
            rng=random.Random(SEED + 1),
            sim=sim,
            start=start,
            register=register,
            name=lambda pattern: _name(rng, used, pattern),
            new_user=lambda username: user_(username, login=False),
            temp_password=secrets.token_urlsafe(16),
            persona_password=PASSWORD,
        )
        summary["finance"] = _finance.summary()
    summary |= {
        "clusters": Cluster.objects.count(),
        "enterprises": Enterprise.objects.count(),
        "verified_tea_members": Membership.objects.filter(cluster=tea, status="verified").count(),
        "pending_tea": len(pending),
    }
    return summary
