"""The ranking corpus: (demand → expected listing) pairs across the three shipped packs, generated with a
fixed seed from the demo catalogue (``chanlian.demo.catalogue``), each with the reason the expected
listing should win.

For each pair a demand is drawn from one catalogue product line (its required specs as hard
constraints, sometimes one preference on a soft attribute, a quantity, a target price, a delivery county
from the catalogue's buyer counties, a needed-by date), then a **pool** of listings of that line:

* the **expected** listing meets every constraint, is at or below the target price for the asked
  quantity, ships from the producing county nearest the buyer, has the whole quantity in stock with an
  MOQ within it, ships before the needed-by date, from a verified member, with the preferred soft value;
* **decoys**, each losing on one explained ground and otherwise as good or — where a buyer would not
  care — cheaper below the target: ``price`` (above the target; a third of them held by a trader in the
  buyer's own county, so nearer), ``far`` (same terms, 1,000+ km farther), ``stock`` (a fraction of the
  quantity), ``moq`` (the minimum order exceeds the quantity), ``late`` (ships days after the needed-by
  date), ``unverified`` (its supplier's membership was suspended after publishing), ``soft`` (another
  value of the preferred soft attribute);
* **excluded** listings that must never be returned, however good their terms: ``hard`` (fails one
  hard constraint, cheapest and nearest) and ``paused`` / ``closed`` (the expected terms, cheaper and
  nearer, then paused or closed).

``generate(seed, today, km)`` is pure (``km(a, b)`` gives the distance between two county codes);
``CorpusWorld`` writes a pair through the real trade services inside a savepoint and reads the demand's
matches with ``matching.selectors.demand_matches``, the function the API uses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from chanlian.demo import catalogue as cat
from chanlian.industry.packs import get_pack
from chanlian.registry import services as registry
from chanlian.registry.uscc import make as make_uscc
from chanlian.trade import services

D = Decimal
SEED = 20261201
PAIRS_PER_PACK = 70

# Producing counties of each pack's cluster (the expected listing ships from the nearest to the buyer).
PRODUCING = {
    "tea": ["350524", "350583", "350526"],  # 安溪, 南安, 德化
    "stainless": ["321281", "321283", "320282", "320581"],  # 兴化, 泰兴, 宜兴, 常熟
    "vegetables": ["370783", "370724", "370781", "370786"],  # 寿光, 临朐, 青州, 昌邑
}
CLUSTER_COUNTY = {"tea": "350524", "stainless": "321281", "vegetables": "370783"}
# Stock held far from every buyer (the ``far`` decoy): 乌鲁木齐, 拉萨, 哈尔滨, 西宁, 呼和浩特.
FAR = ["650102", "540102", "230103", "630102", "150102"]
LINES = {"tea": cat.TEA_LINES, "stainless": cat.STEEL_LINES, "vegetables": cat.VEG_LINES}
BUYER_COUNTIES = {
    "tea": [code for code, _city, _name in cat.TEA_BUYERS],
    "stainless": [code for code, _name in cat.STEEL_BUYERS],
    "vegetables": [code for code, _name in cat.VEG_BUYERS],
}
SCORED_GROUNDS = ("price", "far", "stock", "moq", "late", "unverified", "soft")
EXCLUDED = ("hard", "paused", "closed")
SUPPLIERS_PER_PACK = 6


@dataclass
class Candidate:
    role: str  # "expected", a scored ground, or an excluded kind
    supplier: int  # index of the pack's verified suppliers; -1 = the one suspended after publishing
    listing: dict  # create_listing keyword arguments, without cluster
    ground: str  # why it loses (or why it must not appear)
    after: str = ""  # "pause", "close" or "suspend" once published


@dataclass
class Pair:
    n: int
    pack: str
    line: str
    buyer_county: str
    demand: dict  # post_demand keyword arguments, without cluster
    candidates: list[Candidate]
    reason: str  # one line: why the expected listing should win

    @property
    def expected(self) -> Candidate:
        return self.candidates[0]


# ---------------------------------------------------------------- small helpers


def _quantize(value, step: str) -> D:
    s = D(step)
    q = (D(str(value)) / s).to_integral_value(ROUND_HALF_UP) * s
    return max(q, s)


def _money(value, decimals: int) -> D:
    return D(str(value)).quantize(D(1).scaleb(-decimals), ROUND_HALF_UP)


def _qty(d: D) -> str:
    return format(d.quantize(D("0.001")), "f")


def _tiers(line: cat.Line, moq: D, first_price: D) -> list[dict]:
    """The line's tier ladder (× MOQ, discount) from ``first_price``."""
    out = []
    for mult, discount in line.tiers:
        price = _money(float(first_price) * (1 - discount), line.price_decimals)
        out.append({"min_quantity": _qty(_quantize(moq * D(str(mult)), line.step)), "unit_price": str(price)})
    return out


def _price_for(line: cat.Line, moq: D, first_price: D, quantity: D) -> D:
    """The tier price that applies to ``quantity`` (as ``trade.selectors.price_for`` reads the ladder)."""
    chosen = None
    for tier in _tiers(line, moq, first_price):
        if D(tier["min_quantity"]) <= max(quantity, moq):
            chosen = D(tier["unit_price"])
    return chosen


def _full_spec(pack_key: str, line: cat.Line, today: date, rng: random.Random) -> dict:
    """Exact listing values: the line's spec plus what the demo fills in per listing."""
    from chanlian.demo.history import tea_season_at

    spec = dict(line.spec)
    if pack_key == "tea" and line.category != "tea_machinery":
        season, year = tea_season_at(today)
        if line.key == "chenxiang":
            season, year = "autumn", today.year - rng.choice([5, 6, 8])
        spec.update(harvest_season=season, harvest_year=year)
    if pack_key == "stainless":
        if "thickness" in line.extra:
            spec["thickness_mm"] = rng.choice(line.extra["thickness"])
        spec["mill"] = rng.choice(["青山", "太钢", "宝钢德盛", "德龙", "北港新材料"])
    if pack_key == "vegetables" and line.category != "seedlings":
        spec["origin"] = "山东寿光"
    return spec


def _constraints(pack, line: cat.Line, spec: dict, rng: random.Random) -> tuple[dict, str | None]:
    """The demand's hard constraints (required enums exactly, optional enums half the time, a moisture
    ceiling for tea, a thickness range for coil) and at most one soft preference."""
    category = pack.category(line.category)
    wanted: dict = {}
    for attr in category.attributes:
        value = spec.get(attr.key)
        if value is None or not attr.hard:
            continue
        if attr.type == "enum" and (attr.required or rng.random() < 0.5):
            if attr.key == "grade" and value in ("premium", "grade_1") and rng.random() < 0.5:
                wanted[attr.key] = ["premium", "grade_1"]
            else:
                wanted[attr.key] = value
        elif attr.type == "boolean" and value is True and rng.random() < 0.5:
            wanted[attr.key] = True
    if "moisture_pct" in spec:
        wanted["moisture_pct"] = {"max": "7.5"}
    if "thickness_mm" in spec:
        t = D(spec["thickness_mm"])
        wanted["thickness_mm"] = {"min": str(max(D("0.1"), t - D("0.2"))), "max": str(t + D("0.3"))}
    soft_key = None
    softs = [a.key for a in category.attributes if not a.hard and a.type == "enum" and a.key in spec]
    if softs and rng.random() < 0.6:
        soft_key = rng.choice(softs)
        wanted[soft_key] = spec[soft_key]
    return wanted, soft_key


def _break_hard(pack, line: cat.Line, spec: dict, wanted: dict, rng: random.Random) -> tuple[dict, str]:
    """A copy of ``spec`` that fails exactly one hard constraint of ``wanted``."""
    category = pack.category(line.category)
    out = dict(spec)
    keys = [k for k in wanted if category.attribute(k).hard]
    key = rng.choice(keys)
    attr = category.attribute(key)
    if attr.type == "enum":
        allowed = wanted[key] if isinstance(wanted[key], list) else [wanted[key]]
        out[key] = rng.choice([c.key for c in attr.choices if c.key not in allowed])
        return out, f"{key}={out[key]} outside {allowed}"
    if attr.type == "boolean":
        out[key] = False
        return out, f"{key}=false"
    rng_ = wanted[key]
    if "max" in rng_ and rng_.get("max"):
        bad = D(rng_["max"]) + D("1.0")
        if attr.max is not None:
            bad = min(bad, attr.max)
    else:
        bad = D(rng_["min"]) - D("0.1")
    out[key] = str(bad)
    return out, f"{key}={bad} outside {rng_}"


# ---------------------------------------------------------------- the generator


def generate(
    km, *, seed: int = SEED, today: date | None = None, per_pack: int = PAIRS_PER_PACK
) -> list[Pair]:
    """``per_pack`` pairs for each pack, deterministic for a seed (and today's date, which fixes the tea
    season). ``km(a, b)``: great-circle km between two county codes."""
    rng = random.Random(seed)
    today = today or timezone.localdate()
    pairs: list[Pair] = []
    n = 0
    for pack_key in ("tea", "stainless", "vegetables"):
        pack = get_pack(pack_key)
        lines = sorted(LINES[pack_key])
        for i in range(per_pack):
            n += 1
            line = LINES[pack_key][lines[i % len(lines)]]
            pairs.append(_pair(n, pack_key, pack, line, today, rng, km))
    return pairs


def _pair(n, pack_key, pack, line: cat.Line, today: date, rng: random.Random, km) -> Pair:
    category = pack.category(line.category)
    spec = _full_spec(pack_key, line, today, rng)
    wanted, soft_key = _constraints(pack, line, spec, rng)
    buyer_county = rng.choice(BUYER_COUNTIES[pack_key])
    moq = D(line.moq)
    quantity = max(_quantize(rng.uniform(*line.order_qty), line.step), moq)
    lead_lo, lead_hi = line.lead
    days_left = max(lead_hi + 3, rng.randint(15, 40))
    needed_by = today + timedelta(days=days_left)
    base = D(str(rng.uniform(*line.price)))
    dec = line.price_decimals
    target = _money(base, dec)
    # The demand is in the listing's unit or, for kg lines that allow it, in jin (half the price).
    in_jin = line.unit == "kg" and category.allows_unit("jin") and rng.random() < 0.3
    if in_jin:
        target = _money(base, 1)  # an even number of fen once halved

    producing = sorted(PRODUCING[pack_key], key=lambda c: (km(c, buyer_county), c))
    nearest = producing[0]
    near_km = km(nearest, buyer_county)

    def first_price_at_or_below(lo: float, hi: float) -> D:
        """A first-tier price whose applicable tier for ``quantity`` is within [lo, hi] × target."""
        share = rng.uniform(lo, hi)
        p = _money(float(target) * share, dec)
        while _price_for(line, moq, p, quantity) > target:
            p -= D(1).scaleb(-dec)
        return p

    def base_listing(first_price: D, **over) -> dict:
        m = over.pop("moq", moq)
        data = {
            "category": line.category,
            "spec": dict(spec),
            "title": line.title.format(
                year=spec.get("harvest_year", today.year),
                season=cat.TEA_SEASONS.get(spec.get("harvest_season", ""), ("",))[0],
                thickness=spec.get("thickness_mm", ""),
                aged=today.year - int(spec.get("harvest_year", today.year)),
            ).strip(),
            "description": line.description,
            "unit": line.unit,
            "moq": _qty(m),
            "available_quantity": _qty(_quantize(float(quantity) * rng.uniform(1.5, 6), line.step)),
            "lead_time_days": rng.randint(lead_lo, min(lead_hi, days_left)),
            "origin": nearest,
            "tiers": _tiers(line, m, first_price),
        }
        data.update(over)
        return data

    suppliers = list(range(SUPPLIERS_PER_PACK))
    rng.shuffle(suppliers)
    expected_price = first_price_at_or_below(0.9, 1.0)
    expected = Candidate("expected", suppliers[0], base_listing(expected_price), "")
    e = expected.listing
    candidates = [expected]
    # 4–6 decoys; the soft one whenever the demand states a preference; a ground that cannot apply
    # (one machine cannot be split, no far county far enough) gives way to the next one.
    others = rng.sample([g for g in SCORED_GROUNDS if g != "soft"], k=len(SCORED_GROUNDS) - 1)
    order = ["soft", *others] if soft_key else others
    wanted_decoys = rng.randint(4, 6)
    notes = []
    for ground in order:
        if len(candidates) > wanted_decoys:
            break
        who = suppliers[1 + len(candidates) % (SUPPLIERS_PER_PACK - 1)]
        cheaper = first_price_at_or_below(0.85, 1.0)  # a buyer with a target does not mind
        origin = rng.choice(producing)
        if ground == "price":
            over_by = rng.uniform(0.12, 0.40)
            first = _money(float(target) * (1 + over_by) / (1 - line.tiers[-1][1]), dec)
            local = rng.random() < 1 / 3
            data = base_listing(first, origin=buyer_county if local else origin)
            p = _price_for(line, moq, first, quantity)
            ground_text = f"{(p / target - 1) * 100:.0f}% over the target" + (
                " (a local trader)" if local else ""
            )
        elif ground == "far":
            far = max(FAR, key=lambda c: km(c, buyer_county))
            if km(far, buyer_county) < near_km + 1000:
                continue
            data = base_listing(expected_price, origin=far)
            ground_text = f"{km(far, buyer_county):.0f} km away"
        elif ground == "stock":
            avail = _quantize(float(quantity) * rng.uniform(0.25, 0.7), line.step)
            if avail >= quantity:  # one machine cannot be split
                continue
            m = min(moq, avail)
            data = base_listing(cheaper, origin=origin, available_quantity=_qty(avail), moq=m)
            ground_text = f"stock {avail / quantity * 100:.0f}% of the quantity"
        elif ground == "moq":
            m = _quantize(float(quantity) * rng.uniform(1.5, 3.0), line.step)
            if m <= quantity:
                m = quantity + D(line.step)
            data = base_listing(
                cheaper, origin=origin, moq=m, available_quantity=_qty(_quantize(float(m) * 3, line.step))
            )
            ground_text = f"MOQ {_qty(m).rstrip('0').rstrip('.')} above the quantity"
        elif ground == "late":
            late = rng.randint(4, 12)
            data = base_listing(cheaper, origin=origin, lead_time_days=days_left + late)
            ground_text = f"ships {late} days after the needed-by date"
        elif ground == "unverified":
            data = base_listing(cheaper, origin=origin)
            candidates.append(Candidate(ground, -1, data, "supplier suspended", after="suspend"))
            notes.append("supplier not verified")
            continue
        else:  # soft
            attr = category.attribute(soft_key)
            other = rng.choice([c.key for c in attr.choices if c.key != spec[soft_key]])
            data = base_listing(cheaper, origin=origin, spec={**spec, soft_key: other})
            ground_text = f"{soft_key}={other}, not the preferred {spec[soft_key]}"
        candidates.append(Candidate(ground, who, data, ground_text))
        notes.append(ground_text)
    # Excluded, however good their terms.
    bad_spec, bad_text = _break_hard(pack, line, spec, wanted, rng)
    cheapest = _money(float(expected_price) * 0.8, dec)
    candidates.append(
        Candidate(
            "hard",
            suppliers[-1],
            base_listing(cheapest, origin=buyer_county, spec=bad_spec, lead_time_days=lead_lo),
            bad_text,
        )
    )
    gone = rng.choice(("paused", "closed"))
    candidates.append(
        Candidate(
            gone,
            suppliers[-2],
            base_listing(cheapest, origin=buyer_county, lead_time_days=lead_lo),
            f"{gone} after publishing",
            after="pause" if gone == "paused" else "close",
        )
    )
    unit, q, t = line.unit, quantity, target
    if in_jin:
        unit, q, t = "jin", quantity * 2, (target / 2).quantize(D("0.01"))
    now = timezone.now()
    demand = {
        "category": line.category,
        "title": f"求购{category.name_zh}（语料 {n}）",
        "spec": wanted,
        "quantity": _qty(q),
        "unit": unit,
        "target_unit_price": str(t),
        "delivery_region": buyer_county,
        "needed_by": needed_by,
        "quote_deadline": now + timedelta(days=min(7, days_left - 1)),
    }
    applied = _price_for(line, moq, expected_price, quantity)
    reason = (
        f"#{n} {pack_key}/{line.key}: the expected listing meets every constraint"
        f"{f' and the preference {soft_key}={spec[soft_key]}' if soft_key else ''}, "
        f"{applied} ≤ target {target}/{line.unit}, ships from the nearest producing county "
        f"({near_km:.0f} km), stock {e['available_quantity'].rstrip('0').rstrip('.')} ≥ "
        f"{_qty(quantity).rstrip('0').rstrip('.')}, ready in {e['lead_time_days']} of {days_left} days, "
        f"verified; decoys lose on: {'; '.join(notes)}"
    )
    return Pair(n, pack_key, line.key, buyer_county, demand, candidates, reason)


# ---------------------------------------------------------------- writing and reading a pair


@dataclass
class PairResult:
    pair: Pair
    ranked_roles: list[str]  # the roles of the returned listings, best first
    expected_rank: int | None
    violations: list[str] = field(default_factory=list)  # a hard constraint broken by a result
    excluded_seen: list[str] = field(default_factory=list)  # an excluded listing returned
    scores: list[float] = field(default_factory=list)


class CorpusWorld:
    """Three clusters (one per pack), six verified suppliers and one to be suspended in each, and a
    buyer per catalogue buyer county — all through the registry's services."""

    def __init__(self):
        User = get_user_model()
        self._body = 30000000
        self.admin = User.objects.create_user(username="corpus-admin", is_superuser=True, is_staff=True)
        self.clusters, self.operators, self.suppliers, self.suspended, self.buyers = {}, {}, {}, {}, {}
        for pack_key, county in CLUSTER_COUNTY.items():
            op_user = User.objects.create_user(username=f"corpus-op-{pack_key}")
            op = self._enterprise(op_user, f"{pack_key}产业集群运营有限公司", county)
            cluster = registry.create_cluster(
                self.admin, name=f"语料{pack_key}集群", region=county, pack_key=pack_key, operator=op.pk
            )
            self.clusters[pack_key], self.operators[pack_key] = cluster, op_user
            stages = cluster.pack.stage_keys()[:2]
            people = []
            for i in range(SUPPLIERS_PER_PACK + 1):
                u = User.objects.create_user(username=f"corpus-{pack_key}-s{i}")
                ent = self._enterprise(u, f"语料{pack_key}供应商{i}有限公司", county, cluster, stages)
                registry.verify_membership(op_user, ent.pk, cluster_id=cluster.pk)
                people.append((u, ent))
            self.suppliers[pack_key] = people[:SUPPLIERS_PER_PACK]
            self.suspended[pack_key] = people[SUPPLIERS_PER_PACK]
            for county_code in sorted(set(BUYER_COUNTIES[pack_key])):
                u = User.objects.create_user(username=f"corpus-{pack_key}-b{county_code}")
                self.buyers[(pack_key, county_code)] = (
                    u,
                    self._enterprise(u, f"语料{pack_key}采购商{county_code}有限公司", county_code),
                )
        for u in User.objects.all():
            u.__dict__.pop("_chanlian_principal", None)

    def _enterprise(self, user, name, region, cluster=None, stages=()):
        self._body += 1
        return registry.register_enterprise(
            user,
            uscc=make_uscc(region, str(self._body)),
            name=name,
            region=region,
            cluster=cluster.pk if cluster else None,
            chain_roles=list(stages),
            contact_phone="0595-23456789",
            contact_name="联系人",
        )

    def run(self, pair: Pair, *, limit: int = 20) -> PairResult:
        """Write the pair, read its matches as the API does, and roll everything back."""
        from chanlian.industry.spec import spec_matches
        from chanlian.matching import selectors

        cluster = self.clusters[pair.pack]
        with transaction.atomic():
            by_id = {}
            suspend = []
            for c in pair.candidates:
                user, ent = (
                    self.suspended[pair.pack] if c.supplier < 0 else self.suppliers[pair.pack][c.supplier]
                )
                listing = services.create_listing(user, cluster=cluster.pk, **c.listing)
                services.publish_listing(user, listing.pk)
                if c.after == "pause":
                    services.pause_listing(user, listing.pk)
                elif c.after == "close":
                    services.close_listing(user, listing.pk)
                elif c.after == "suspend":
                    suspend.append(ent)
                by_id[listing.pk] = (c, listing)
            for ent in suspend:
                registry.suspend_membership(
                    self.operators[pair.pack], ent.pk, reason="语料：暂停", cluster_id=cluster.pk
                )
            buyer_user, _buyer = self.buyers[(pair.pack, pair.buyer_county)]
            buyer_user.__dict__.pop("_chanlian_principal", None)
            demand = services.post_demand(buyer_user, cluster=cluster.pk, **pair.demand)
            demand = selectors.demand_for_matches(buyer_user, demand.pk)
            m = selectors.demand_matches(buyer_user, demand, limit=limit)
            pack = cluster.pack
            roles, violations, excluded, scores = [], [], [], []
            for s in m.results:
                c, listing = by_id.get(s.listing.pk, (None, None))
                role = c.role if c else "other"
                roles.append(role)
                scores.append(s.total)
                if not spec_matches(pack, demand.category, demand.spec, s.listing.spec):
                    violations.append(f"listing {s.listing.pk} ({role})")
                if role in EXCLUDED or s.listing.status != "published":
                    excluded.append(role)
            rank = roles.index("expected") + 1 if "expected" in roles else None
            transaction.set_rollback(True)
        return PairResult(pair, roles, rank, violations, excluded, scores)
