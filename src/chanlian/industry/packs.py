"""Industry packs: an industry's characteristics as data, loaded from TOML files, validated once, cached.

A pack (``packs/<key>.toml``, or a file in one of ``settings.CHANLIAN_PACK_DIRS``) describes one
characteristic industry: trade units, chain stages, quality grades and the standards they come from,
product categories with their spec attributes, and the default price-index basket. Clusters refer to a
pack by its key. The schema is documented in ``docs/industry-packs.md``.

Everything here is immutable: the loader turns a file into frozen dataclasses or refuses the whole file
with a ``PackError`` naming the file and the key path (``tea.toml: categories[2].attributes[1].type:
unknown type 'float'``). Pack errors are for pack authors and operators, so they stay in English; errors a
user of the platform sees (unknown category, bad spec values) go through gettext.
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.translation import gettext as _

from chanlian.core.errors import InvalidInput, NotFound

BUILTIN_PACK_DIR = Path(__file__).resolve().parent / "packs"

ATTRIBUTE_TYPES = ("decimal", "integer", "enum", "text", "boolean")
# Each dimension converts through one base quantity; a unit's factor says how many base units it holds.
DIMENSIONS: Mapping[str, str] = MappingProxyType({"mass": "kg", "count": "item", "length": "m", "area": "m2"})
STAGE_KINDS = ("chain", "input", "service")
# A category with grades gets an enum attribute of this key whose choices are its grades.
GRADE_ATTRIBUTE = "grade"
DEFAULT_DECIMALS = 2
MAX_DECIMALS = 6
DEFAULT_MAX_LENGTH = 200
MAX_TEXT_LENGTH = 2000

KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
PACK_KEY_RE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
CHOICE_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
VERSION_RE = re.compile(r"\d+\.\d+(\.\d+)?")
CURRENCY_RE = re.compile(r"[A-Z]{3}")


class PackError(ValueError):
    """A pack file is invalid. ``str()`` reads ``<file name>: <key path>: <reason>``."""

    def __init__(self, file: str | Path, key_path: str, reason: str):
        self.file = str(file)
        self.key_path = key_path
        self.reason = reason
        name = Path(file).name
        super().__init__(f"{name}: {key_path}: {reason}" if key_path else f"{name}: {reason}")


# --------------------------------------------------------------------------------------------------------
# The pack, as immutable values
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """A trade unit. ``factor`` = how many base units of its dimension one of it holds (斤 = 0.5 kg)."""

    key: str
    name_zh: str
    name_en: str
    symbol: str
    dimension: str
    factor: Decimal

    @property
    def base(self) -> str:
        return DIMENSIONS[self.dimension]

    def to_base(self, quantity: Decimal) -> Decimal:
        return Decimal(quantity) * self.factor

    def from_base(self, quantity: Decimal) -> Decimal:
        return Decimal(quantity) / self.factor


@dataclass(frozen=True, slots=True)
class Stage:
    """A chain stage (产业链环节). ``kind``: ``chain`` (the main chain, in ``order``), ``input`` (upstream
    supplies such as 农资 or machinery) or ``service`` (inspection, logistics). ``supplies``: the stage keys
    this stage feeds, for the chain map."""

    key: str
    name_zh: str
    name_en: str
    order: int
    kind: str = "chain"
    description_zh: str = ""
    description_en: str = ""
    supplies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Grade:
    """A quality grade. ``rank`` 1 is the best; ``standard`` names the standard the grade comes from."""

    key: str
    name_zh: str
    name_en: str
    rank: int
    standard: str = ""
    description_zh: str = ""
    description_en: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Choice:
    key: str
    name_zh: str
    name_en: str
    description_zh: str = ""
    description_en: str = ""
    # Other spellings accepted on input (unified numbers, old designations…); stored as ``key``.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Attribute:
    """A spec attribute of a category. ``min``/``max`` are Decimals (integral for ``integer``);
    ``decimals`` only for ``decimal``; ``choices`` only for ``enum``; ``max_length`` only for ``text``.
    ``hard``: in matching, a listing that fails this constraint is excluded (else it only ranks lower).
    ``from_grades``: the attribute is the category's grade, built from ``[[grades]]``."""

    key: str
    name_zh: str
    name_en: str
    type: str
    required: bool = False
    unit: str | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    decimals: int | None = None
    choices: tuple[Choice, ...] = ()
    max_length: int | None = None
    filterable: bool = False
    hard: bool = True
    description_zh: str = ""
    description_en: str = ""
    from_grades: bool = False

    def choice_keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.choices)

    def choice(self, key: str) -> Choice | None:
        return next((c for c in self.choices if c.key == key), None)


@dataclass(frozen=True, slots=True)
class Category:
    """A product category. ``unit`` is the default trade unit, ``units`` every allowed one (``unit``
    first); ``grades`` the grade keys that apply, best first; ``stage`` the chain stage that sells it.
    ``attributes`` starts with the ``grade`` attribute when the category has grades."""

    key: str
    name_zh: str
    name_en: str
    stage: str
    unit: str
    units: tuple[str, ...]
    grades: tuple[str, ...] = ()
    grade_required: bool = False
    attributes: tuple[Attribute, ...] = ()
    standards: tuple[str, ...] = ()
    description_zh: str = ""
    description_en: str = ""
    _attributes: Mapping[str, Attribute] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_attributes", MappingProxyType({a.key: a for a in self.attributes}))

    def attribute_keys(self) -> tuple[str, ...]:
        return tuple(self._attributes)

    def get_attribute(self, key: str) -> Attribute | None:
        return self._attributes.get(key)

    def attribute(self, key: str) -> Attribute:
        try:
            return self._attributes[key]
        except (KeyError, TypeError):
            raise InvalidInput(
                _("Unknown attribute %(key)r for category %(category)s.")
                % {"key": str(key)[:64], "category": self.key},
                code="unknown_attribute",
                fields={str(key)[:64]: _("Unknown attribute.")},
            ) from None

    def filterable_attributes(self) -> tuple[Attribute, ...]:
        return tuple(a for a in self.attributes if a.filterable)

    def allows_unit(self, unit_key: str) -> bool:
        return unit_key in self.units

    def grades_at_least(self, grade_key: str) -> tuple[str, ...]:
        """The grade keys as good as ``grade_key`` or better: a demand for 一级及以上."""
        if grade_key not in self.grades:
            raise InvalidInput(
                _("Unknown grade %(grade)r for category %(category)s.")
                % {"grade": str(grade_key)[:64], "category": self.key},
                code="unknown_grade",
            )
        return self.grades[: self.grades.index(grade_key) + 1]


@dataclass(frozen=True, slots=True)
class BasketItem:
    """One item of the price-index basket: a category narrowed by spec constraints (cleaned as by
    ``validate_spec(..., mode="constraint")``), its weight (Decimal; a basket's weights sum to 1) and the
    unit its price is quoted in."""

    key: str
    category: str
    weight: Decimal
    unit: str
    spec: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    name_zh: str = ""
    name_en: str = ""

    def spec_dict(self) -> dict[str, Any]:
        """The constraints as a plain JSON-ready dict (lists, not tuples)."""
        return {
            k: list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, Mapping) else v
            for k, v in self.spec.items()
        }


@dataclass(frozen=True, slots=True)
class Basket:
    items: tuple[BasketItem, ...]
    description_zh: str = ""
    description_en: str = ""


@dataclass(frozen=True, slots=True)
class Pack:
    key: str
    version: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    currency: str
    units: tuple[Unit, ...]
    stages: tuple[Stage, ...]
    grades: tuple[Grade, ...]
    categories: tuple[Category, ...]
    basket: Basket | None = None
    source: str = ""
    _units: Mapping[str, Unit] = field(init=False, repr=False, compare=False)
    _stages: Mapping[str, Stage] = field(init=False, repr=False, compare=False)
    _grades: Mapping[str, Grade] = field(init=False, repr=False, compare=False)
    _categories: Mapping[str, Category] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        for name, items in (
            ("_units", self.units),
            ("_stages", self.stages),
            ("_grades", self.grades),
            ("_categories", self.categories),
        ):
            object.__setattr__(self, name, MappingProxyType({i.key: i for i in items}))

    # -- lookups ------------------------------------------------------------------------------------------
    def stage_keys(self, kind: str | None = None) -> tuple[str, ...]:
        """Stage keys in chain order; ``kind`` narrows to ``chain``, ``input`` or ``service``."""
        return tuple(s.key for s in self.stages if kind is None or s.kind == kind)

    def stage(self, key: str) -> Stage:
        return self._lookup(
            self._stages, key, "unknown_stage", _("Unknown chain stage %(key)r in pack %(pack)s.")
        )

    def unit(self, key: str) -> Unit:
        return self._lookup(self._units, key, "unknown_unit", _("Unknown unit %(key)r in pack %(pack)s."))

    def unit_symbol(self, key: str) -> str:
        """The unit as people write it (斤, 吨, kg), not its key; the key itself for a unit the pack does
        not (or no longer) define, so a stored row always shows something."""
        unit = self._units.get(key)
        return (unit.symbol or key) if unit is not None else key

    def grade(self, key: str) -> Grade:
        return self._lookup(self._grades, key, "unknown_grade", _("Unknown grade %(key)r in pack %(pack)s."))

    def category(self, key: str) -> Category:
        return self._lookup(
            self._categories, key, "unknown_category", _("Unknown category %(key)r in pack %(pack)s.")
        )

    def category_keys(self) -> tuple[str, ...]:
        return tuple(self._categories)

    def has_category(self, key: str) -> bool:
        return key in self._categories

    def _lookup(self, index: Mapping, key: str, code: str, message: str):
        try:
            return index[key]
        except (KeyError, TypeError):
            raise InvalidInput(message % {"key": str(key)[:64], "pack": self.key}, code=code) from None

    # -- units --------------------------------------------------------------------------------------------
    def convert(self, quantity: Decimal | int | str, from_unit: str, to_unit: str) -> Decimal:
        """Convert a quantity between two units of the same dimension (exact for the usual factors)."""
        source, target = self.unit(from_unit), self.unit(to_unit)
        if source.dimension != target.dimension:
            raise InvalidInput(
                _("Cannot convert %(from)s (%(from_dim)s) to %(to)s (%(to_dim)s).")
                % {
                    "from": source.key,
                    "from_dim": source.dimension,
                    "to": target.key,
                    "to_dim": target.dimension,
                },
                code="incompatible_units",
            )
        if isinstance(quantity, float):
            quantity = str(quantity)
        if source.key == target.key:
            return Decimal(quantity)
        return target.from_base(source.to_base(Decimal(quantity)))

    @property
    def counts(self) -> dict[str, int]:
        return {
            "stages": len(self.stages),
            "units": len(self.units),
            "grades": len(self.grades),
            "categories": len(self.categories),
            "attributes": sum(len(c.attributes) for c in self.categories),
            "basket_items": len(self.basket.items) if self.basket else 0,
        }


# --------------------------------------------------------------------------------------------------------
# Loading and validating one file
# --------------------------------------------------------------------------------------------------------

_PACK_KEYS = {"key", "version", "name_zh", "name_en", "description_zh", "description_en", "currency"}
_UNIT_KEYS = {"key", "name_zh", "name_en", "symbol", "dimension", "factor"}
_STAGE_KEYS = {"key", "name_zh", "name_en", "order", "kind", "description_zh", "description_en", "supplies"}
_GRADE_KEYS = {"key", "name_zh", "name_en", "rank", "standard", "description_zh", "description_en", "note"}
_CHOICE_KEYS = {"key", "name_zh", "name_en", "description_zh", "description_en", "aliases"}
_ATTRIBUTE_KEYS = {
    "key",
    "name_zh",
    "name_en",
    "type",
    "required",
    "unit",
    "min",
    "max",
    "decimals",
    "choices",
    "max_length",
    "filterable",
    "hard",
    "description_zh",
    "description_en",
}
_CATEGORY_KEYS = {
    "key",
    "name_zh",
    "name_en",
    "stage",
    "unit",
    "units",
    "grades",
    "grade_required",
    "attributes",
    "standards",
    "description_zh",
    "description_en",
}
_BASKET_KEYS = {"description_zh", "description_en", "items"}
_BASKET_ITEM_KEYS = {"key", "category", "spec", "weight", "unit", "name_zh", "name_en"}
_TOP_KEYS = {"pack", "units", "stages", "grades", "attributes", "categories", "basket"}

_MISSING = object()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Loader:
    """Reads one parsed TOML document; every refusal names the file and the key path."""

    def __init__(self, file: Path):
        self.file = file

    def fail(self, path: str, reason: str) -> NoReturn:
        raise PackError(self.file, path, reason)

    # -- primitives ---------------------------------------------------------------------------------------
    def table(self, value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"must be a table, not {type(value).__name__}")
        return value

    def only(self, table: dict, allowed: set[str], path: str) -> None:
        for key in table:
            if key not in allowed:
                self.fail(_join(path, key), f"unknown key {key!r}; allowed: {', '.join(sorted(allowed))}")

    def get(self, table: dict, key: str, path: str, required: bool) -> Any:
        value = table.get(key, _MISSING)
        if value is _MISSING and required:
            self.fail(_join(path, key), "missing required key")
        return value

    def string(
        self,
        table: dict,
        key: str,
        path: str,
        *,
        required: bool = False,
        default: str = "",
        pattern: re.Pattern | None = None,
        max_length: int = 2000,
    ) -> str:
        value = self.get(table, key, path, required)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            self.fail(_join(path, key), f"must be a string, not {type(value).__name__}")
        value = value.strip()
        if required and not value:
            self.fail(_join(path, key), "must not be empty")
        if len(value) > max_length:
            self.fail(_join(path, key), f"longer than {max_length} characters")
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(_join(path, key), f"{value!r} does not match {pattern.pattern}")
        return value

    def key(self, table: dict, path: str, pattern: re.Pattern = KEY_RE) -> str:
        return self.string(table, "key", path, required=True, pattern=pattern, max_length=64)

    def boolean(self, table: dict, key: str, path: str, default: bool) -> bool:
        value = self.get(table, key, path, False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.fail(_join(path, key), f"must be true or false, not {value!r}")
        return value

    def integer(
        self,
        table: dict,
        key: str,
        path: str,
        *,
        required: bool = False,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self.get(table, key, path, required)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(_join(path, key), f"must be an integer, not {value!r}")
        if minimum is not None and value < minimum:
            self.fail(_join(path, key), f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            self.fail(_join(path, key), f"must be at most {maximum}")
        return value

    def number(self, table: dict, key: str, path: str, *, required: bool = False) -> Decimal | None:
        """A TOML number (floats are parsed as Decimal, exactly as written) or a numeric string."""
        value = self.get(table, key, path, required)
        if value is _MISSING:
            return None
        return self.as_decimal(value, _join(path, key))

    def as_decimal(self, value: Any, path: str) -> Decimal:
        if isinstance(value, bool):
            self.fail(path, f"must be a number, not {value!r}")
        if isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                self.fail(path, f"must be a number, not {value!r}")
        else:
            self.fail(path, f"must be a number, not {type(value).__name__}")
        if not number.is_finite():
            self.fail(path, "must be a finite number")
        return number

    def strings(
        self, table: dict, key: str, path: str, *, pattern: re.Pattern | None = None
    ) -> list[str] | None:
        value = self.get(table, key, path, False)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.fail(_join(path, key), f"must be a list of strings, not {type(value).__name__}")
        out = []
        for i, item in enumerate(value):
            item_path = f"{_join(path, key)}[{i}]"
            if not isinstance(item, str) or not item.strip():
                self.fail(item_path, f"must be a non-empty string, not {item!r}")
            item = item.strip()
            if pattern is not None and not pattern.fullmatch(item):
                self.fail(item_path, f"{item!r} does not match {pattern.pattern}")
            if item in out:
                self.fail(item_path, f"duplicate {item!r}")
            out.append(item)
        return out

    def tables(self, table: dict, key: str, path: str, *, required: bool = False) -> list[tuple[str, dict]]:
        value = self.get(table, key, path, required)
        if value is _MISSING:
            return []
        base = _join(path, key)
        if not isinstance(value, list):
            self.fail(base, f"must be an array of tables ([[{base}]]), not {type(value).__name__}")
        if required and not value:
            self.fail(base, "must not be empty")
        return [(f"{base}[{i}]", self.table(item, f"{base}[{i}]")) for i, item in enumerate(value)]

    def unique(self, seen: dict[str, str], key: str, path: str, what: str) -> None:
        if key in seen:
            self.fail(f"{path}.key", f"duplicate {what} key {key!r} (also at {seen[key]})")
        seen[key] = path

    # -- sections -----------------------------------------------------------------------------------------
    def load(self, doc: dict) -> Pack:
        self.only(doc, _TOP_KEYS, "")
        head = self.table(self.get(doc, "pack", "", True), "pack")
        self.only(head, _PACK_KEYS, "pack")
        key = self.key(head, "pack", PACK_KEY_RE)
        if key != self.file.stem:
            self.fail("pack.key", f"{key!r} must equal the file name without .toml ({self.file.stem!r})")
        units = self.load_units(doc)
        stages = self.load_stages(doc)
        grades = self.load_grades(doc)
        shared = self.load_shared_attributes(doc)
        categories = self.load_categories(doc, units, stages, grades, shared)
        pack = Pack(
            key=key,
            version=self.string(head, "version", "pack", required=True, pattern=VERSION_RE),
            name_zh=self.string(head, "name_zh", "pack", required=True),
            name_en=self.string(head, "name_en", "pack", required=True),
            description_zh=self.string(head, "description_zh", "pack"),
            description_en=self.string(head, "description_en", "pack"),
            currency=self.string(head, "currency", "pack", default="CNY", pattern=CURRENCY_RE),
            units=tuple(units.values()),
            stages=tuple(sorted(stages.values(), key=lambda s: s.order)),
            grades=tuple(sorted(grades.values(), key=lambda g: g.rank)),
            categories=tuple(categories.values()),
            source=str(self.file),
        )
        return replace(pack, basket=self.load_basket(doc, pack))

    def names(self, table: dict, path: str) -> dict[str, str]:
        return {
            "name_zh": self.string(table, "name_zh", path, required=True, max_length=100),
            "name_en": self.string(table, "name_en", path, required=True, max_length=200),
        }

    def descriptions(self, table: dict, path: str) -> dict[str, str]:
        return {
            "description_zh": self.string(table, "description_zh", path),
            "description_en": self.string(table, "description_en", path),
        }

    def load_units(self, doc: dict) -> dict[str, Unit]:
        units: dict[str, Unit] = {}
        seen: dict[str, str] = {}
        for path, t in self.tables(doc, "units", "", required=True):
            self.only(t, _UNIT_KEYS, path)
            key = self.key(t, path)
            self.unique(seen, key, path, "unit")
            dimension = self.string(t, "dimension", path, required=True)
            if dimension not in DIMENSIONS:
                self.fail(
                    f"{path}.dimension",
                    f"unknown dimension {dimension!r}; use one of: {', '.join(DIMENSIONS)}",
                )
            factor = self.number(t, "factor", path, required=True)
            if factor <= 0:
                self.fail(f"{path}.factor", "must be greater than zero")
            units[key] = Unit(
                key=key,
                symbol=self.string(t, "symbol", path, default=key, max_length=20),
                dimension=dimension,
                factor=factor,
                **self.names(t, path),
            )
        return units

    def load_stages(self, doc: dict) -> dict[str, Stage]:
        stages: dict[str, Stage] = {}
        seen: dict[str, str] = {}
        orders: dict[int, str] = {}
        raw_supplies: dict[str, tuple[str, list[str]]] = {}
        for path, t in self.tables(doc, "stages", "", required=True):
            self.only(t, _STAGE_KEYS, path)
            key = self.key(t, path)
            self.unique(seen, key, path, "stage")
            order = self.integer(t, "order", path, required=True, minimum=0)
            if order in orders:
                self.fail(f"{path}.order", f"duplicate order {order} (also stage {orders[order]!r})")
            orders[order] = key
            kind = self.string(t, "kind", path, default="chain")
            if kind not in STAGE_KINDS:
                self.fail(f"{path}.kind", f"unknown kind {kind!r}; use one of: {', '.join(STAGE_KINDS)}")
            raw_supplies[key] = (path, self.strings(t, "supplies", path, pattern=KEY_RE) or [])
            stages[key] = Stage(
                key=key, order=order, kind=kind, **self.names(t, path), **self.descriptions(t, path)
            )
        for key, (path, supplies) in raw_supplies.items():
            for i, target in enumerate(supplies):
                if target not in stages:
                    self.fail(f"{path}.supplies[{i}]", f"unknown stage {target!r}")
                if target == key:
                    self.fail(f"{path}.supplies[{i}]", "a stage cannot supply itself")
            stages[key] = replace(stages[key], supplies=tuple(supplies))
        return stages

    def load_grades(self, doc: dict) -> dict[str, Grade]:
        grades: dict[str, Grade] = {}
        seen: dict[str, str] = {}
        ranks: dict[int, str] = {}
        for i, (path, t) in enumerate(self.tables(doc, "grades", "")):
            self.only(t, _GRADE_KEYS, path)
            key = self.key(t, path)
            self.unique(seen, key, path, "grade")
            rank = self.integer(t, "rank", path, default=i + 1, minimum=1)
            if rank in ranks:
                self.fail(f"{path}.rank", f"duplicate rank {rank} (also grade {ranks[rank]!r})")
            ranks[rank] = key
            grades[key] = Grade(
                key=key,
                rank=rank,
                standard=self.string(t, "standard", path),
                note=self.string(t, "note", path),
                **self.names(t, path),
                **self.descriptions(t, path),
            )
        return grades

    def load_shared_attributes(self, doc: dict) -> dict[str, tuple[str, dict]]:
        """``[[attributes]]``: definitions categories reuse with ``{ use = "<key>", ... }``."""
        shared: dict[str, tuple[str, dict]] = {}
        seen: dict[str, str] = {}
        for path, t in self.tables(doc, "attributes", ""):
            key = self.key(t, path)
            self.unique(seen, key, path, "shared attribute")
            self.attribute(t, path)  # validate it even if no category uses it
            shared[key] = (path, t)
        return shared

    def load_categories(
        self,
        doc: dict,
        units: dict[str, Unit],
        stages: dict[str, Stage],
        grades: dict[str, Grade],
        shared: dict[str, tuple[str, dict]],
    ) -> dict[str, Category]:
        categories: dict[str, Category] = {}
        seen: dict[str, str] = {}
        for path, t in self.tables(doc, "categories", "", required=True):
            self.only(t, _CATEGORY_KEYS, path)
            key = self.key(t, path)
            self.unique(seen, key, path, "category")
            stage = self.string(t, "stage", path, required=True)
            if stage not in stages:
                self.fail(f"{path}.stage", f"unknown stage {stage!r}")
            unit = self.string(t, "unit", path, required=True)
            if unit not in units:
                self.fail(f"{path}.unit", f"unknown unit {unit!r}")
            allowed = self.strings(t, "units", path)
            if allowed is None:
                allowed = [unit]
            for i, u in enumerate(allowed):
                if u not in units:
                    self.fail(f"{path}.units[{i}]", f"unknown unit {u!r}")
            if unit not in allowed:
                self.fail(f"{path}.unit", f"default unit {unit!r} is not in units")
            allowed = [unit, *(u for u in allowed if u != unit)]
            grade_keys = self.strings(t, "grades", path) or []
            for i, g in enumerate(grade_keys):
                if g not in grades:
                    self.fail(f"{path}.grades[{i}]", f"unknown grade {g!r}")
            grade_keys.sort(key=lambda g: grades[g].rank)
            grade_required = self.boolean(t, "grade_required", path, False)
            if grade_required and not grade_keys:
                self.fail(f"{path}.grade_required", "the category has no grades")
            attributes: list[Attribute] = []
            if grade_keys:
                attributes.append(
                    Attribute(
                        key=GRADE_ATTRIBUTE,
                        name_zh="等级",
                        name_en="Grade",
                        type="enum",
                        required=grade_required,
                        choices=tuple(
                            Choice(
                                g,
                                grades[g].name_zh,
                                grades[g].name_en,
                                grades[g].description_zh,
                                grades[g].description_en,
                            )
                            for g in grade_keys
                        ),
                        filterable=True,
                        hard=True,
                        from_grades=True,
                    )
                )
            attr_seen: dict[str, str] = {}
            for apath, a in self.tables(t, "attributes", path):
                if "use" in a:
                    a = self.resolve_shared(a, apath, shared)
                attribute = self.attribute(a, apath)
                if attribute.key == GRADE_ATTRIBUTE:
                    self.fail(
                        f"{apath}.key", f"{GRADE_ATTRIBUTE!r} is reserved: list the category's grades instead"
                    )
                self.unique(attr_seen, attribute.key, apath, "attribute")
                attributes.append(attribute)
            categories[key] = Category(
                key=key,
                stage=stage,
                unit=unit,
                units=tuple(allowed),
                grades=tuple(grade_keys),
                grade_required=grade_required,
                attributes=tuple(attributes),
                standards=tuple(self.strings(t, "standards", path) or ()),
                **self.names(t, path),
                **self.descriptions(t, path),
            )
        return categories

    def resolve_shared(self, a: dict, path: str, shared: dict[str, tuple[str, dict]]) -> dict:
        use = a["use"]
        if not isinstance(use, str) or use not in shared:
            self.fail(f"{path}.use", f"unknown shared attribute {use!r}")
        if "key" in a or "type" in a:
            self.fail(path, "an attribute with 'use' takes its key and type from the shared definition")
        overrides = {k: v for k, v in a.items() if k != "use"}
        return {**shared[use][1], **overrides}

    def attribute(self, a: dict, path: str) -> Attribute:
        self.only(a, _ATTRIBUTE_KEYS, path)
        key = self.key(a, path)
        type_ = self.string(a, "type", path, required=True)
        if type_ not in ATTRIBUTE_TYPES:
            self.fail(f"{path}.type", f"unknown type {type_!r}; use one of: {', '.join(ATTRIBUTE_TYPES)}")
        numeric = type_ in ("decimal", "integer")
        for k, allowed in (
            ("unit", numeric),
            ("min", numeric),
            ("max", numeric),
            ("decimals", type_ == "decimal"),
            ("choices", type_ == "enum"),
            ("max_length", type_ == "text"),
        ):
            if k in a and not allowed:
                self.fail(f"{path}.{k}", f"not allowed for type {type_!r}")
        decimals = None
        if type_ == "decimal":
            decimals = self.integer(
                a, "decimals", path, default=DEFAULT_DECIMALS, minimum=0, maximum=MAX_DECIMALS
            )
        minimum = self.bound(a, "min", path, type_, decimals)
        maximum = self.bound(a, "max", path, type_, decimals)
        if minimum is not None and maximum is not None and minimum > maximum:
            self.fail(f"{path}.min", f"min {minimum} is greater than max {maximum}")
        max_length = None
        if type_ == "text":
            max_length = self.integer(
                a, "max_length", path, default=DEFAULT_MAX_LENGTH, minimum=1, maximum=MAX_TEXT_LENGTH
            )
        choices: tuple[Choice, ...] = ()
        if type_ == "enum":
            choices = self.choices(a, path)
        return Attribute(
            key=key,
            type=type_,
            required=self.boolean(a, "required", path, False),
            unit=self.string(a, "unit", path, default="", max_length=20) or None,
            min=minimum,
            max=maximum,
            decimals=decimals,
            choices=choices,
            max_length=max_length,
            filterable=self.boolean(a, "filterable", path, False),
            hard=self.boolean(a, "hard", path, True),
            **self.names(a, path),
            **self.descriptions(a, path),
        )

    def bound(self, a: dict, key: str, path: str, type_: str, decimals: int | None) -> Decimal | None:
        value = self.number(a, key, path)
        if value is None:
            return None
        if type_ == "integer":
            if value != value.to_integral_value():
                self.fail(f"{path}.{key}", f"must be a whole number for an integer attribute, not {value}")
            return value.quantize(Decimal(1))
        quantum = Decimal(1).scaleb(-decimals)
        try:
            quantized = value.quantize(quantum)
        except InvalidOperation:
            self.fail(f"{path}.{key}", f"{value} is too large")
        if quantized != value:
            self.fail(f"{path}.{key}", f"{value} has more than {decimals} decimals")
        return quantized

    def choices(self, a: dict, path: str) -> tuple[Choice, ...]:
        entries = self.tables(a, "choices", path)
        if not entries:
            self.fail(f"{path}.choices", "an enum attribute needs at least one choice")
        out: list[Choice] = []
        seen: dict[str, str] = {}
        tokens: dict[str, str] = {}  # casefolded key/name -> choice key; input may use any of them
        for cpath, c in entries:
            self.only(c, _CHOICE_KEYS, cpath)
            key = self.key(c, cpath, CHOICE_KEY_RE)
            self.unique(seen, key, cpath, "choice")
            aliases = tuple(self.strings(c, "aliases", cpath) or ())
            choice = Choice(key=key, aliases=aliases, **self.names(c, cpath), **self.descriptions(c, cpath))
            for token in {t.casefold() for t in (choice.key, choice.name_zh, choice.name_en, *aliases)}:
                if tokens.get(token, key) != key:
                    self.fail(cpath, f"{token!r} is ambiguous: it also names choice {tokens[token]!r}")
                tokens[token] = key
            out.append(choice)
        return tuple(out)

    def load_basket(self, doc: dict, pack: Pack) -> Basket | None:
        raw = self.get(doc, "basket", "", False)
        if raw is _MISSING:
            return None
        basket = self.table(raw, "basket")
        self.only(basket, _BASKET_KEYS, "basket")
        from django.utils import translation

        from .spec import validate_spec  # spec imports this module

        items: list[BasketItem] = []
        seen: dict[str, str] = {}
        total = Decimal(0)
        for path, t in self.tables(basket, "items", "basket", required=True):
            self.only(t, _BASKET_ITEM_KEYS, path)
            key = self.key(t, path)
            self.unique(seen, key, path, "basket item")
            category_key = self.string(t, "category", path, required=True)
            if not pack.has_category(category_key):
                self.fail(f"{path}.category", f"unknown category {category_key!r}")
            category = pack.category(category_key)
            unit = self.string(t, "unit", path, default=category.unit)
            if not category.allows_unit(unit):
                self.fail(f"{path}.unit", f"unit {unit!r} is not allowed for category {category_key!r}")
            weight = self.number(t, "weight", path, required=True)
            if weight <= 0 or weight > 1:
                self.fail(f"{path}.weight", f"must be greater than 0 and at most 1, not {weight}")
            total += weight
            spec_raw = self.get(t, "spec", path, False)
            spec_raw = {} if spec_raw is _MISSING else self.table(spec_raw, f"{path}.spec")
            try:
                with translation.override("en"):
                    spec = validate_spec(pack, category_key, spec_raw, mode="constraint")
            except InvalidInput as exc:
                attr, message = next(iter(exc.fields.items()), ("", exc.detail))
                self.fail(_join(f"{path}.spec", attr), str(message))
            frozen = {
                k: tuple(v) if isinstance(v, list) else MappingProxyType(v) if isinstance(v, dict) else v
                for k, v in spec.items()
            }
            items.append(
                BasketItem(
                    key=key,
                    category=category_key,
                    weight=weight,
                    unit=unit,
                    spec=MappingProxyType(frozen),
                    name_zh=self.string(t, "name_zh", path, default=category.name_zh),
                    name_en=self.string(t, "name_en", path, default=category.name_en),
                )
            )
        if total != 1:
            self.fail("basket.items", f"weights sum to {total}, not 1")
        return Basket(items=tuple(items), **self.descriptions(basket, "basket"))


def load_pack_file(path: str | Path) -> Pack:
    """Parse and validate one pack file; raise ``PackError`` naming the file and key path if it is bad.

    TOML floats are read as ``Decimal`` exactly as written, so ``factor = 0.001`` and ``weight = 0.35``
    stay exact.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh, parse_float=Decimal)
    except OSError as exc:
        raise PackError(path, "", f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PackError(path, "", "not valid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise PackError(path, "", f"invalid TOML: {exc}") from None
    return _Loader(path).load(doc)


# --------------------------------------------------------------------------------------------------------
# The registry: every pack file in the pack directories, each loaded once
# --------------------------------------------------------------------------------------------------------

_lock = threading.RLock()
_index: dict[str, Path] | None = None
_cache: dict[str, Pack] = {}


def pack_dirs() -> list[Path]:
    """The shipped ``packs/`` directory, then ``settings.CHANLIAN_PACK_DIRS`` (an operator's own packs)."""
    extra = getattr(settings, "CHANLIAN_PACK_DIRS", []) or []
    if isinstance(extra, str | Path):
        extra = [extra]
    return [BUILTIN_PACK_DIR, *(Path(d) for d in extra)]


def _scan(dirs: Iterable[Path]) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for directory in dirs:
        if not directory.is_dir():
            raise PackError(directory, "", "CHANLIAN_PACK_DIRS names a directory that does not exist")
        for file in sorted(directory.glob("*.toml")):
            if file.stem in index:
                raise PackError(
                    file, "pack.key", f"duplicate pack key {file.stem!r}: also in {index[file.stem]}"
                )
            index[file.stem] = file
    return index


def _get_index() -> dict[str, Path]:
    global _index
    with _lock:
        if _index is None:
            _index = _scan(pack_dirs())
        return _index


def pack_files() -> list[Path]:
    """Every pack file found, ordered by pack key (file name)."""
    index = _get_index()
    return [index[k] for k in sorted(index)]


def pack_keys() -> list[str]:
    return sorted(_get_index())


def get_pack(key: str) -> Pack:
    """The pack with this key; ``NotFound`` if there is none. A broken file raises ``PackError``."""
    index = _get_index()
    if not isinstance(key, str) or key not in index:
        raise NotFound(_("Unknown industry pack %(key)r.") % {"key": str(key)[:64]})
    with _lock:
        pack = _cache.get(key)
        if pack is None:
            pack = _cache[key] = load_pack_file(index[key])
        return pack


def all_packs() -> list[Pack]:
    """Every pack, ordered by key."""
    return [get_pack(k) for k in pack_keys()]


def clear_pack_cache() -> None:
    """Forget loaded packs and rescan the directories (after editing a pack or changing the setting)."""
    global _index
    with _lock:
        _index = None
        _cache.clear()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs) -> None:
    if setting == "CHANLIAN_PACK_DIRS":
        clear_pack_cache()
