"""The chain map (产业链图谱) and its gaps (补链): the cluster's pack stages as columns, who works in each,
the month's trade between stages, how much of each stage's inputs comes from outside the county.

**Stages** are the pack's (``industry/packs/*.toml``: inputs, the main chain in order, services). An
enterprise's stages are its chain roles in the cluster (``registry.ChainRole``), declared when it joined.

**Enterprises per stage**: memberships of the cluster with that role, not rejected (``enterprises``), and
of those the verified ones (``verified``). Counts of the directory: public, never suppressed (as
``registry.selectors.cluster_stats``).

**Trade between stages** (one month, from the store): an order line goes *from* the stage that sells its
category (the pack's ``category.stage``: what was sold says where it came from more precisely than the
supplier's roles) *to* the buyer's stage, chosen among the buyer's roles in the cluster: a stage that the
selling stage feeds (its ``supplies``, or for a main-chain stage the next main-chain stage), else the
buyer's first stage after the selling one, else its first stage; a buyer with no role in the cluster
(a member without one, or not a member: traders, retailers, buyers from elsewhere) is ``outside`` — the
market beyond the cluster's chain.

**External sourcing** of a stage: of the month's purchases by the stage (lines whose buyer stage it is),
the share bought from suppliers registered outside the cluster's county.

**Gaps (补链)**, the list for investment promotion: a stage with fewer than ``GAP_MIN_ENTERPRISES``
verified enterprises (``few_enterprises``), or buying more than ``GAP_EXTERNAL_SHARE`` of its inputs from
outside the county (``external_sourcing``, judged only on a published share).

**Privacy** (``privacy.py``, same scopes as the cockpit): a link, a stage's sales or purchases, a stage's
external and in-county parts are trade cells — 3 suppliers and 3 buyers, complementary suppression
within their total (links and stage sales within the month's GMV; a stage's two parts within its
purchases). For the suppressed scopes a stage's purchases split into parts only when its purchases are
themselves published. The drill-down lists a stage's enterprises as the enterprise directory shows them to
the user (``registry.selectors.enterprises``: the cluster's operator and verified members read it, a
government body and the public get the counts only); figures per enterprise (a cell of one enterprise)
only for the operator scope, and an enterprise's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from chanlian.core.errors import NotFound

from . import privacy, snapshot
from .cockpit import COUNTED, SIDES_SQL, TRADE, _money, _query, _row, _total_row

GAP_MIN_ENTERPRISES = 3
GAP_EXTERNAL_SHARE = 0.5
OUTSIDE = "outside"
UNKNOWN = "unknown"  # a category the pack no longer has


@dataclass
class ChainMap:
    month: str
    stages: list[dict]
    links: list[dict]
    gaps: list[dict]
    total: dict
    thresholds: dict


def _zh() -> bool:
    return (get_language() or "zh-hans").startswith("zh")


def _stage_name(stage) -> str:
    return stage.name_zh if _zh() else (stage.name_en or stage.name_zh)


def downstream(pack, key: str) -> tuple[str, ...]:
    """The stages ``key`` feeds: its ``supplies``, or for a main-chain stage the next one in order."""
    stage = pack.stage(key)
    if stage.supplies:
        return stage.supplies
    if stage.kind == "chain":
        later = [s for s in pack.stages if s.kind == "chain" and s.order > stage.order]
        return (later[0].key,) if later else ()
    return ()


def buyer_stage(pack, seller: str, roles: set[str]) -> str:
    """The stage a purchase from ``seller`` goes to, for a buyer with ``roles`` (see the module doc)."""
    if not roles:
        return OUTSIDE
    order = {s.key: s.order for s in pack.stages}
    ranked = sorted((r for r in roles if r in order), key=lambda r: order[r])
    if not ranked:
        return OUTSIDE
    if seller in order:
        for target in downstream(pack, seller):
            if target in roles:
                return target
        later = [r for r in ranked if order[r] > order[seller]]
        if later:
            return later[0]
    return ranked[0]


def stage_members(cluster) -> tuple[dict, dict]:
    """Per stage: (enterprises, verified) counts; and enterprise id → its stages in the cluster."""
    from chanlian.registry.choices import MembershipStatus
    from chanlian.registry.models import ChainRole

    counts: dict[str, list[int]] = {}
    roles: dict[int, set[str]] = {}
    for eid, stage, status in ChainRole.objects.filter(cluster=cluster).values_list(
        "membership__enterprise_id", "stage", "membership__status"
    ):
        if status == MembershipStatus.REJECTED:
            continue
        c = counts.setdefault(stage, [0, 0])
        c[0] += 1
        c[1] += status == MembershipStatus.VERIFIED
        roles.setdefault(eid, set()).add(stage)
    return counts, roles


def _register(con, pack, roles: dict[int, set[str]]) -> None:
    cats = pa.table(
        {"category": [c.key for c in pack.categories], "seller_stage": [c.stage for c in pack.categories]}
    )
    buyers, sellers, targets = [], [], []
    for eid, rs in roles.items():
        for s in pack.stages:
            buyers.append(eid)
            sellers.append(s.key)
            targets.append(buyer_stage(pack, s.key, rs))
    stages = pa.table(
        {
            "buyer_id": pa.array(buyers, pa.int64()),
            "seller_stage": pa.array(sellers, pa.string()),
            "stage": pa.array(targets, pa.string()),
        }
    )
    con.register("chain_categories", cats)
    con.register("chain_buyers", stages)


def chain_map(cluster, scope: str, month: str, *, con=None) -> ChainMap:
    """The chain map of ``cluster`` for ``month`` as ``scope`` may see it."""
    pack = cluster.pack
    con = con or snapshot.connect()
    counts, roles = stage_members(cluster)
    _register(con, pack, roles)
    recs = _query(
        con,
        "SELECT grouping(src, dst, ext) AS g, src, dst, ext, "  # noqa: S608
        "coalesce(sum(amount), 0) AS gmv, count(*) AS orders, "
        f"{SIDES_SQL} FROM ("
        f"  SELECT f.*, coalesce(c.seller_stage, '{UNKNOWN}') AS src, coalesce(b.stage, '{OUTSIDE}') AS dst, "
        "  supplier_region <> cluster_region AS ext "
        "  FROM order_facts f LEFT JOIN chain_categories c USING (category) "
        "  LEFT JOIN chain_buyers b ON b.buyer_id = f.buyer_id AND b.seller_stage = c.seller_stage "
        f"  WHERE f.cluster_id = ? AND f.placed_month = ? AND {COUNTED}"
        ") GROUP BY GROUPING SETS ((src, dst), (src), (dst), (dst, ext), ())",
        [cluster.pk, month],
    )
    # grouping() bits: src=4, dst=2, ext=1 — a 1 where the column is rolled up; 7 = the month's total
    total = _total_row(next((r for r in recs if r["g"] == 7), None), month)
    links = [r for r in recs if r["g"] == 1]
    sales = {r["src"]: r for r in recs if r["g"] == 3}
    inputs = {r["dst"]: r for r in recs if r["g"] == 5}
    parts = [r for r in recs if r["g"] == 4]

    measures = {"gmv": TRADE, "orders": TRADE}
    link_rows = [
        _row({"source": r["src"], "target": r["dst"]}, {"gmv": r["gmv"], "orders": r["orders"]}, r)
        for r in links
    ]
    link_rows.sort(key=lambda r: (-(r.values["gmv"] or 0), r.key["source"], r.key["target"]))
    sale_rows = {k: _row({"stage": k}, {"gmv": r["gmv"], "orders": r["orders"]}, r) for k, r in sales.items()}
    input_rows = {
        k: _row({"stage": k}, {"gmv": r["gmv"], "orders": r["orders"]}, r) for k, r in inputs.items()
    }
    part_rows: dict[str, dict[bool, object]] = {}
    for r in parts:
        part_rows.setdefault(r["dst"], {})[bool(r["ext"])] = _row(
            {"stage": r["dst"], "external": bool(r["ext"])}, {"gmv": r["gmv"], "orders": r["orders"]}, r
        )
    additive = ("gmv", "orders")
    privacy.publish(
        [*link_rows, *sale_rows.values(), *input_rows.values(), total],
        scope,
        measures,
        groups=[
            (link_rows, total, additive, TRADE, "gmv"),
            (list(sale_rows.values()), total, additive, TRADE, "gmv"),
            (list(input_rows.values()), total, additive, TRADE, "gmv"),
        ],
    )
    for stage, by_ext in part_rows.items():
        rows = list(by_ext.values())
        whole = input_rows[stage]
        if scope in privacy.SUPPRESSED_SCOPES and "gmv" in whole.suppressed:
            for r in rows:
                r.suppressed.update(additive)
            continue
        privacy.publish(rows, scope, measures, groups=[(rows, whole, additive, TRADE, "gmv")])

    def money(row, m="gmv"):
        return None if row is None or m in row.suppressed else _money(row.values[m])

    def count(row):
        return None if row is None or "orders" in row.suppressed else row.values["orders"]

    stage_out = []
    gaps = []
    keys = [s.key for s in pack.stages]
    for s in pack.stages:
        n, verified = counts.get(s.key, [0, 0])
        sale, inp = sale_rows.get(s.key), input_rows.get(s.key)
        ext = part_rows.get(s.key, {}).get(True)
        share = None
        if inp is not None and "gmv" not in inp.suppressed and inp.values["gmv"]:
            if ext is None:
                share = 0.0
            elif "gmv" not in ext.suppressed:
                share = round(float(ext.values["gmv"] / inp.values["gmv"]), 4)
        reasons = []
        if verified < GAP_MIN_ENTERPRISES:
            reasons.append("few_enterprises")
        if share is not None and share > GAP_EXTERNAL_SHARE:
            reasons.append("external_sourcing")
        # No trade at all: 0 for the operator; withheld for the suppressed scopes (a cell of nobody).
        zero = None if scope in privacy.SUPPRESSED_SCOPES else "0.00"
        zero_n = None if scope in privacy.SUPPRESSED_SCOPES else 0
        if inp is None:
            ext_out = zero
        elif ext is None:
            ext_out = "0.00" if money(inp) is not None else None
        else:
            ext_out = money(ext)
        row = {
            "stage": s.key,
            "name": _stage_name(s),
            "kind": s.kind,
            "order": s.order,
            "feeds": list(downstream(pack, s.key)),
            "enterprises": n,
            "verified": verified,
            "sales": money(sale) if sale is not None else zero,
            "sales_orders": count(sale) if sale is not None else zero_n,
            "purchases": money(inp) if inp is not None else zero,
            "purchase_orders": count(inp) if inp is not None else zero_n,
            "external_purchases": ext_out,
            "external_share": share,
            "gap": bool(reasons),
            "gap_reasons": reasons,
        }
        stage_out.append(row)
        if reasons:
            gaps.append(
                {
                    "stage": s.key,
                    "name": row["name"],
                    "kind": s.kind,
                    "reasons": reasons,
                    "explanation": gap_explanation(reasons, verified, share),
                    "verified": verified,
                    "external_share": share,
                }
            )
    names = {s.key: _stage_name(s) for s in pack.stages}
    names[OUTSIDE] = _("Outside the cluster's chain")
    names[UNKNOWN] = _("Unknown stage")
    link_out = []
    for r in link_rows:
        if scope in privacy.SUPPRESSED_SCOPES and "gmv" in r.suppressed:
            continue
        link_out.append(
            {
                "source": r.key["source"],
                "source_name": names.get(r.key["source"], r.key["source"]),
                "target": r.key["target"],
                "target_name": names.get(r.key["target"], r.key["target"]),
                "gmv": money(r),
                "orders": count(r),
            }
        )
    withheld = sum(1 for r in link_rows if "gmv" in r.suppressed)
    order = {k: i for i, k in enumerate([*keys, OUTSIDE, UNKNOWN])}
    link_out.sort(key=lambda d: (order.get(d["source"], 99), order.get(d["target"], 99)))
    return ChainMap(
        month,
        stage_out,
        link_out,
        gaps,
        {"month": month, "gmv": money(total), "orders": count(total), "links_withheld": withheld},
        {"min_enterprises": GAP_MIN_ENTERPRISES, "max_external_share": GAP_EXTERNAL_SHARE},
    )


def gap_explanation(reasons: list[str], verified: int, share: float | None) -> str:
    parts = []
    if "few_enterprises" in reasons:
        parts.append(
            _("only %(n)s verified enterprises (fewer than %(min)s)")
            % {"n": verified, "min": GAP_MIN_ENTERPRISES}
        )
    if "external_sourcing" in reasons and share is not None:
        parts.append(
            _("%(share)s of its inputs bought outside the county (more than %(max)s)")
            % {"share": f"{share:.0%}", "max": f"{GAP_EXTERNAL_SHARE:.0%}"}
        )
    return _("; ").join(parts)


# ------------------------------------------------------------------------------------------ drill-down


def stage_detail(user, cluster, scope: str, stage: str, month: str, *, con=None) -> dict:
    """A stage's enterprises as the directory shows them to ``user``, with their own trade in the month
    where the scope allows it (operator: everyone's; anyone else: only their own enterprises')."""
    from chanlian.registry import selectors as registry
    from chanlian.registry.choices import MembershipStatus
    from chanlian.registry.principal import principal_for

    pack = cluster.pack
    if stage not in pack.stage_keys():
        raise NotFound()
    s = pack.stage(stage)
    counts, _roles = stage_members(cluster)
    n, verified = counts.get(stage, [0, 0])
    p = principal_for(user)
    visible = list(
        registry.enterprises(
            user, cluster=cluster.pk, stage=stage, status=MembershipStatus.VERIFIED
        ).values_list("id", "name", "region_id")[:500]
    )
    own_ids = set(p.enterprise_ids)
    figures_for = {e[0] for e in visible} if scope == privacy.OPERATOR else own_ids & {e[0] for e in visible}
    figures: dict[int, dict] = {}
    if figures_for:
        con = con or snapshot.connect()
        ids = sorted(figures_for)
        marks = ", ".join("?" * len(ids))
        for rec in _query(
            con,
            "SELECT e AS id, sum(amount) FILTER (WHERE supplier_id = e) AS sales, "  # noqa: S608
            "count(*) FILTER (WHERE supplier_id = e) AS sales_orders, "
            "sum(amount) FILTER (WHERE buyer_id = e) AS purchases, "
            "count(*) FILTER (WHERE buyer_id = e) AS purchase_orders "
            f"FROM (SELECT unnest([{marks}]) AS e) ids JOIN order_facts f "
            "ON f.supplier_id = ids.e OR f.buyer_id = ids.e "
            f"WHERE f.cluster_id = ? AND f.placed_month = ? AND {COUNTED} GROUP BY e",
            [*ids, cluster.pk, month],
        ):
            figures[rec["id"]] = rec
    rows = []
    for eid, name, region in visible:
        f = figures.get(eid)
        shown = eid in figures_for
        rows.append(
            {
                "id": eid,
                "name": name,
                "region": region,
                "own": eid in own_ids,
                "sales": (_money(f["sales"] or Decimal(0)) if f else "0.00") if shown else None,
                "sales_orders": (f["sales_orders"] if f else 0) if shown else None,
                "purchases": (_money(f["purchases"] or Decimal(0)) if f else "0.00") if shown else None,
                "purchase_orders": (f["purchase_orders"] if f else 0) if shown else None,
            }
        )
    return {
        "stage": stage,
        "name": _stage_name(s),
        "kind": s.kind,
        "month": month,
        "enterprises": n,
        "verified": verified,
        "directory": bool(visible) or p.operates(cluster.pk) or cluster.pk in p.member_cluster_ids,
        "rows": rows,
    }
