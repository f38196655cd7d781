"""The monthly cluster report (集群月报): one closed month's figures on a printable page and as a PDF.

Contents, all computed by the cockpit's and the chain map's functions for the viewer's scope (so the
same privacy rule applies: the public and government see closed months only, with suppression):

* the month's **GMV, orders, active suppliers and buyers**, each with the change from the previous month
  (the monthly series);
* the **top categories** (GMV, orders, share);
* **双循环**: the GMV shares by buyer origin — in the county, rest of the province, other provinces;
* the **price index** of the month when the cluster has a current monthly release (``releases``,
  imported lazily: a deployment without it, or a cluster without a release, leaves the section out);
* the **chain gaps** (补链) of the chain map.

The PDF is drawn with reportlab and a CJK TrueType font found on the machine (the same lookup as the
contract PDF, ``trade.services.contracts.cjk_font_path``; WenQuanYi Micro Hei on Debian).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from . import chainmap, cockpit, snapshot

TOP_CATEGORIES = 8


@dataclass
class Kpi:
    key: str
    label: str
    value: object  # a Decimal string for money, an int, or None (withheld)
    previous: object
    change: float | None  # fraction, None when either side is withheld or the previous is 0
    money: bool = False

    @property
    def change_pct(self) -> str:
        return _fmt_change(self.change)


@dataclass
class MonthlyReport:
    cluster_id: int
    cluster_name: str
    region: str
    month: str
    scope: str
    kpis: list[Kpi]
    categories: list[dict]
    origins: list[dict]
    origins_withheld: float | None
    index: dict | None
    gaps: list[dict]
    stages: list[dict]
    notes: list[str] = field(default_factory=list)

    @property
    def origins_withheld_pct(self) -> str:
        return _fmt_share(self.origins_withheld)


def _change(now, before) -> float | None:
    if now is None or before is None:
        return None
    before, now = Decimal(str(before)), Decimal(str(now))
    if not before:
        return None
    return round(float((now - before) / before), 4)


def _index(cluster, scope: str, month: str) -> dict | None:
    """The month's monthly index value from the cluster's current release, if there is one."""
    try:
        from . import releases
    except ImportError:  # pragma: no cover - a deployment without releases
        return None
    try:
        release = releases.current_release(cluster, "monthly")
    except Exception:
        return None
    if release is None:
        return None
    value = release.values.filter(period=month).first()
    if value is None:
        return {
            "release": release.release_id,
            "method": release.method_version,
            "value": None,
            "change": None,
            "change_pct": "—",
            "status": "no_data",
            "base_period": release.base_period,
        }
    pub = releases.suppress_period(value, scope)
    return {
        "change_pct": _fmt_change(pub["change"]),
        "release": release.release_id,
        "method": release.method_version,
        "base_period": release.base_period,
        "value": pub["value"],
        "change": pub["change"],
        "status": pub["status"],
    }


def build(cluster, scope: str, month: str) -> MonthlyReport:
    con = snapshot.connect()
    series = cockpit.monthly(cluster, scope, month, months=2, con=con).rows
    prev, cur = series[0], series[1]
    labels = {
        "gmv": _("GMV (yuan)"),
        "orders": _("Orders"),
        "suppliers": _("Active suppliers"),
        "buyers": _("Active buyers"),
    }
    kpis = [
        Kpi(k, labels[k], cur[k], prev[k], _change(cur[k], prev[k]), money=k == "gmv")
        for k in ("gmv", "orders", "suppliers", "buyers")
    ]
    cats = [
        {**c, "share_pct": _fmt_share(c["share"])}
        for c in cockpit.breakdown(cluster, scope, month, "category", con=con).rows[:TOP_CATEGORIES]
    ]
    origins_chart = cockpit.origins(cluster, scope, month, con=con)
    origin_labels = {
        "county": _("In the county"),
        "province": _("Rest of the province"),
        "other": _("Other provinces"),
    }
    origins = [
        {**r, "label": origin_labels[r["origin"]], "share_pct": _fmt_share(r["share"])}
        for r in origins_chart.rows
    ]
    shown = [r["share"] for r in origins_chart.rows if r["share"] is not None]
    withheld = None
    if len(shown) < len(origins_chart.rows) and origins_chart.extra["total"]["gmv"] is not None:
        withheld = round(max(0.0, 1 - sum(shown)), 4)
    chain = chainmap.chain_map(cluster, scope, month, con=con)
    con.close()
    notes = []
    if scope != "operator":
        notes.append(
            _(
                "A figure built from fewer than 3 enterprises is withheld (—), "
                "and so is whatever would let it "
                "be worked out from a total."
            )
        )
    return MonthlyReport(
        cluster.pk,
        cluster.name,
        cluster.region.full_name or cluster.region.name,
        month,
        scope,
        kpis,
        cats,
        origins,
        withheld,
        _index(cluster, scope, month),
        [{**g, "share_pct": _fmt_share(g["external_share"])} for g in chain.gaps],
        chain.stages,
        notes,
    )


# ------------------------------------------------------------------------------------------------ PDF


def _fmt_money(v) -> str:
    return "—" if v is None else f"{Decimal(str(v)):,.2f}"


def _fmt_count(v) -> str:
    return "—" if v is None else f"{v:,}"


def _fmt_share(v) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def _fmt_change(v) -> str:
    return "—" if v is None else f"{v * 100:+.1f}%"


def pdf_available() -> bool:
    from chanlian.trade.services.contracts import pdf_available as available

    return available()


def render_pdf(r: MonthlyReport) -> bytes:
    """The report as an A4 PDF."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from chanlian.trade.services.contracts import _font_name, cjk_font_path

    path = cjk_font_path()
    if path is None:
        raise RuntimeError("no CJK font for the report PDF (set CHANLIAN_CJK_FONT)")
    font = _font_name(path)
    base = ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=11, textColor=colors.HexColor("#555555"))
    title = ParagraphStyle("title", parent=base, fontSize=18, leading=26, spaceAfter=2)
    head = ParagraphStyle("head", parent=base, fontSize=12, leading=18, spaceBefore=8, spaceAfter=3)
    cell = ParagraphStyle("cell", parent=base, fontSize=9, leading=12)
    num = ParagraphStyle("num", parent=cell, alignment=2)

    def p(text, style=base):
        return Paragraph(escape(str(text)), style)

    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f0")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
    )
    width = A4[0] - 36 * mm

    def table(header, rows, widths, numeric=()):
        data = [[p(h, cell) for h in header]]
        for row in rows:
            data.append([p(v, num if i in numeric else cell) for i, v in enumerate(row)])
        t = Table(data, colWidths=[w * width for w in widths], repeatRows=1)
        t.setStyle(grid)
        return t

    story: list = [
        p(_("Monthly cluster report") + f" · {r.month}", title),
        p(f"{r.cluster_name} · {r.region}", base),
        Spacer(1, 3 * mm),
    ]
    for note in r.notes:
        story.append(p(note, small))
    story.append(p(_("Key figures"), head))
    story.append(
        table(
            [_("Figure"), r.month, _("Previous month"), _("Change from the previous month")],
            [
                [
                    k.label,
                    _fmt_money(k.value) if k.money else _fmt_count(k.value),
                    _fmt_money(k.previous) if k.money else _fmt_count(k.previous),
                    _fmt_change(k.change),
                ]
                for k in r.kpis
            ],
            (0.34, 0.22, 0.22, 0.22),
            numeric=(1, 2, 3),
        )
    )
    story.append(p(_("Top categories"), head))
    if r.categories:
        story.append(
            table(
                [_("Category"), _("GMV (yuan)"), _("Orders"), _("Share")],
                [
                    [c["name"], _fmt_money(c["gmv"]), _fmt_count(c["orders"]), _fmt_share(c["share"])]
                    for c in r.categories
                ],
                (0.4, 0.24, 0.16, 0.2),
                numeric=(1, 2, 3),
            )
        )
    else:
        story.append(p(_("No trade in this month."), small))
    story.append(p(_("Where buyers come from (dual circulation)"), head))
    rows = [
        [o["label"], _fmt_money(o["gmv"]), _fmt_count(o["orders"]), _fmt_share(o["share"])] for o in r.origins
    ]
    if r.origins_withheld:
        rows.append([_("withheld"), "—", "—", _fmt_share(r.origins_withheld)])
    story.append(
        table(
            [_("Buyer origin"), _("GMV (yuan)"), _("Orders"), _("Share")],
            rows,
            (0.4, 0.24, 0.16, 0.2),
            (1, 2, 3),
        )
    )
    if r.index is not None:
        story.append(p(_("Price index"), head))
        value = "—" if r.index["value"] is None else f"{r.index['value']:.2f}"
        story.append(
            table(
                [_("Index"), _("Change from the previous month"), _("Base period"), _("Method")],
                [[value, _fmt_change(r.index["change"]), r.index["base_period"], r.index["method"]]],
                (0.18, 0.16, 0.18, 0.48),
            )
        )
    story.append(p(_("Chain gaps (补链)"), head))
    if r.gaps:
        story.append(
            table(
                [_("Stage"), _("Verified enterprises"), _("Bought outside the county"), _("Why")],
                [
                    [g["name"], _fmt_count(g["verified"]), _fmt_share(g["external_share"]), g["explanation"]]
                    for g in r.gaps
                ],
                (0.22, 0.16, 0.18, 0.44),
                numeric=(1, 2),
            )
        )
    else:
        story.append(p(_("No chain gap this month."), small))
    story.append(Spacer(1, 4 * mm))
    story.append(
        p(
            _(
                "Sources: the platform's orders (the analytics store) and its member directory. "
                "Generated by Chanlian."
            ),
            small,
        )
    )
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{r.cluster_name} {r.month}",
    )
    doc.build(story)
    return buf.getvalue()
