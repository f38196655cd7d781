"""Load the shipped division list and centroids into ``Region`` (used by migration 0002 and ``load_regions``).

Sources (see ``data/`` and the project's NOTICE):

* ``admin-divisions-2024.txt`` — ``<code> <name>`` per line, sorted by code, from the Ministry of Civil
  Affairs lists as compiled by yescallop/areacodes (CC0 1.0). It has no rows for the "市辖区" and
  "省直辖县级行政区划" placeholders, so districts of the four municipalities (1101xx, 1201xx, 3101xx,
  5001xx/5002xx) and county-level units directly under a province (4190xx, 4290xx, 4690xx, 6590xx) take
  the province as parent.
* ``centroids-2016.csv`` — ``code,name,level,lon_gcj02,lat_gcj02`` from Vonng/adcode (CC BY 4.0), GCJ-02
  coordinates. It predates the 2024 list: codes created since 2016 are absent, and some rows have empty
  coordinates. Such a region takes its parent's centroid (recursively) and is flagged
  ``centroid_inherited``. Rows are matched by code only (a renamed district keeps its code).

The load is an upsert keyed by code, so rerunning it after a data update changes only what changed. Codes
that disappear from the list are kept (other records may refer to them) and reported.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, transaction

from .choices import RegionLevel

DATA_DIR = Path(__file__).resolve().parent / "data"
DIVISIONS_FILE = DATA_DIR / "admin-divisions-2024.txt"
CENTROIDS_FILE = DATA_DIR / "centroids-2016.csv"

CODE_RE = re.compile(r"\d{6}")
COORD_QUANTUM = Decimal("0.000001")
_DEPTH = {RegionLevel.PROVINCE: 0, RegionLevel.PREFECTURE: 1, RegionLevel.COUNTY: 2}
# Written by the loader; compared field by field to decide what an upsert must update.
_FIELDS = ("name", "level", "parent_id", "lon", "lat", "centroid_inherited", "full_name")


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str
    level: str
    parent_code: str | None
    full_name: str
    lon: Decimal | None
    lat: Decimal | None
    centroid_inherited: bool

    def values(self) -> tuple:
        return (
            self.name,
            self.level,
            self.parent_code,
            self.lon,
            self.lat,
            self.centroid_inherited,
            self.full_name,
        )


@dataclass
class LoadResult:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    inherited: int = 0
    without_centroid: int = 0
    stale: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"regions: {self.total} in data ({self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged); {self.inherited} centroids inherited from the parent, "
            f"{self.without_centroid} without centroid"
        )
        if self.stale:
            text += f"; {len(self.stale)} codes in the database but not in the data, kept: " + ", ".join(
                self.stale[:20]
            )
            if len(self.stale) > 20:
                text += ", …"
        return text


def level_for_code(code: str) -> str:
    """Level from the code's shape: ``xx0000`` province, ``xxxx00`` prefecture, else county-level.

    County-level units directly under a province (``419001`` 济源市, ``4290xx``, ``4690xx``, ``6590xx``) and
    the districts of municipalities (``110101``) have non-zero last digits, so they come out county-level.
    """
    if code.endswith("0000"):
        return RegionLevel.PROVINCE
    if code.endswith("00"):
        return RegionLevel.PREFECTURE
    return RegionLevel.COUNTY


def read_divisions(path: Path = DIVISIONS_FILE) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2 or not CODE_RE.fullmatch(parts[0]):
                raise ValueError(f"{path.name}:{lineno}: expected '<6-digit code> <name>', got {line!r}")
            code, name = parts[0], parts[1].strip()
            if code in seen:
                raise ValueError(f"{path.name}:{lineno}: duplicate code {code}")
            seen.add(code)
            rows.append((code, name))
    return rows


def _coord(text: str, where: str) -> Decimal:
    try:
        return Decimal(text).quantize(COORD_QUANTUM)
    except InvalidOperation:
        raise ValueError(f"{where}: bad coordinate {text!r}") from None


def read_centroids(path: Path = CENTROIDS_FILE) -> dict[str, tuple[Decimal, Decimal]]:
    """Code → (lon, lat); rows with an empty coordinate are left out."""
    centroids: dict[str, tuple[Decimal, Decimal]] = {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        for lineno, rec in enumerate(csv.DictReader(f), 2):
            code = (rec.get("code") or "").strip()
            lon, lat = (rec.get("lon_gcj02") or "").strip(), (rec.get("lat_gcj02") or "").strip()
            if not CODE_RE.fullmatch(code):
                raise ValueError(f"{path.name}:{lineno}: bad code {code!r}")
            if not lon or not lat:
                continue
            where = f"{path.name}:{lineno}"
            lon_d, lat_d = _coord(lon, where), _coord(lat, where)
            if not (-180 <= lon_d <= 180 and -90 <= lat_d <= 90):
                raise ValueError(f"{where}: coordinate out of range ({lon}, {lat})")
            centroids[code] = (lon_d, lat_d)
    return centroids


def build_rows(
    divisions_path: Path = DIVISIONS_FILE, centroids_path: Path = CENTROIDS_FILE
) -> list[RegionRow]:
    """Every region, parents before children (province → prefecture → county)."""
    divisions = read_divisions(divisions_path)
    centroids = read_centroids(centroids_path)
    names = dict(divisions)
    ordered = sorted(divisions, key=lambda cn: (_DEPTH[level_for_code(cn[0])], cn[0]))
    built: dict[str, RegionRow] = {}
    for code, name in ordered:
        level = level_for_code(code)
        parent_code = None
        if level == RegionLevel.COUNTY:
            # A county whose prefecture row is absent (municipality districts, 省直辖县级行政区划) hangs off
            # the province.
            parent_code = code[:4] + "00" if code[:4] + "00" in names else code[:2] + "0000"
        elif level == RegionLevel.PREFECTURE:
            parent_code = code[:2] + "0000"
        parent = built.get(parent_code) if parent_code else None
        if parent_code and parent is None:
            raise ValueError(f"{divisions_path.name}: {code} {name} has no parent row {parent_code}")
        own = centroids.get(code)
        if own:
            (lon, lat), inherited = own, False
        elif parent is not None and parent.lon is not None:
            lon, lat, inherited = parent.lon, parent.lat, True
        else:
            lon = lat = None
            inherited = False
        built[code] = RegionRow(
            code=code,
            name=name,
            level=str(level),
            parent_code=parent_code,
            full_name=(parent.full_name if parent else "") + name,
            lon=lon,
            lat=lat,
            centroid_inherited=inherited,
        )
    return list(built.values())


def apply_rows(model, rows: list[RegionRow], *, using: str = DEFAULT_DB_ALIAS) -> LoadResult:
    """Upsert ``rows`` into ``model`` (the Region model, or its historical version inside a migration)."""
    result = LoadResult(total=len(rows))
    result.inherited = sum(r.centroid_inherited for r in rows)
    result.without_centroid = sum(r.lon is None for r in rows)
    from .selectors import forget_regions

    forget_regions()
    manager = model._default_manager.db_manager(using)
    with transaction.atomic(using=using):
        existing = {v[0]: tuple(v[1:]) for v in manager.values_list("code", *_FIELDS)}
        to_create, to_update = [], []
        for row in rows:
            obj = model(
                code=row.code,
                name=row.name,
                level=row.level,
                parent_id=row.parent_code,
                lon=row.lon,
                lat=row.lat,
                centroid_inherited=row.centroid_inherited,
                full_name=row.full_name,
            )
            if row.code not in existing:
                to_create.append(obj)
            elif existing[row.code] != row.values():
                to_update.append(obj)
        # Rows are parents-first, so each batch only refers to rows inserted before it.
        manager.bulk_create(to_create, batch_size=500)
        update_fields = [f.removesuffix("_id") for f in _FIELDS]
        manager.bulk_update(to_update, update_fields, batch_size=500)
        result.created, result.updated = len(to_create), len(to_update)
        result.unchanged = len(rows) - len(to_create) - len(to_update)
        codes = {r.code for r in rows}
        result.stale = sorted(code for code in existing if code not in codes)
    return result


def load_regions(stdout=None, *, model=None, using: str = DEFAULT_DB_ALIAS) -> LoadResult:
    """Idempotently load the shipped data; write a one-line summary to ``stdout`` if given."""
    if model is None:
        from .models import Region

        model = Region
    result = apply_rows(model, build_rows(), using=using)
    if stdout is not None:
        stdout.write(result.summary())
    return result


def unload_regions(model, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Delete every region: the reverse of migration 0002. Other apps' rows that refer to one protect it."""
    from .selectors import forget_regions

    forget_regions()
    manager = model._default_manager.db_manager(using)
    with transaction.atomic(using=using):
        # ``parent`` is PROTECT: detach the tree first so the regions do not protect one another.
        manager.update(parent=None)
        manager.all().delete()
