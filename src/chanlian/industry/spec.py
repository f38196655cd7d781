"""Spec values against a pack: the one validation that listings, demands, imports and the basket use.

``validate_spec(pack, category, values)`` cleans a listing's exact values; ``mode="constraint"`` cleans a
demand's constraints (ranges, lists of allowed enum values, nothing required). ``match_spec`` /
``spec_matches`` say whether a listing's values satisfy a demand's constraints.

Cleaned values are JSON-ready and canonical, so they can be stored as they are and compared later:
decimal -> string with exactly the attribute's decimals (``"1.50"``), integer -> int, enum -> choice key,
boolean -> bool, text -> stripped string. Numbers are parsed as ``Decimal`` from strings and ints (a float
is read through ``str()``); never through binary floating point.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from chanlian.core.errors import InvalidInput

from .packs import Attribute, Category, Pack

MODES = ("exact", "constraint")
_TRUE = {"true", "1", "yes", "y", "on", "是", "有"}
_FALSE = {"false", "0", "no", "n", "off", "否", "无"}
_RANGE_KEYS = {"min", "max"}


class _Bad(Exception):
    """One attribute's value is refused; the message is already translated."""


def _label(obj) -> str:
    language = get_language() or ""
    return obj.name_zh if language.startswith("zh") else obj.name_en


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, Mapping):  # {} or {"min": None, "max": ""}: an empty range
        return all(_is_blank(v) for v in value.values())
    return isinstance(value, list | tuple) and not value


# -- single values ----------------------------------------------------------------------------------------


def _number(attr: Attribute, raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise _Bad(_("Must be a number."))
    if isinstance(raw, float):
        raw = str(raw)  # the shortest repr: 0.1 -> "0.1", not 0.1000000000000000055…
    if isinstance(raw, int | Decimal):
        number = Decimal(raw)
    elif isinstance(raw, str):
        try:
            number = Decimal(raw.strip())
        except InvalidOperation:
            raise _Bad(_("Must be a number, not %(value)r.") % {"value": raw.strip()[:40]}) from None
    else:
        raise _Bad(_("Must be a number."))
    if not number.is_finite():
        raise _Bad(_("Must be a finite number."))
    return number


def _check_range(attr: Attribute, number: Decimal, shown: str) -> None:
    if attr.min is not None and number < attr.min:
        raise _Bad(
            _("%(value)s is below the minimum %(min)s.") % {"value": shown, "min": _fmt(attr, attr.min)}
        )
    if attr.max is not None and number > attr.max:
        raise _Bad(
            _("%(value)s is above the maximum %(max)s.") % {"value": shown, "max": _fmt(attr, attr.max)}
        )


def _fmt(attr: Attribute, number: Decimal) -> str:
    text = format(number, "f")
    return f"{text} {attr.unit}" if attr.unit else text


def _clean_decimal(attr: Attribute, raw: Any) -> str:
    number = _number(attr, raw)
    places = attr.decimals if attr.decimals is not None else 2
    try:
        quantized = number.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        raise _Bad(_("The number is too large.")) from None
    if quantized != number:
        raise _Bad(_("At most %(places)d decimal places.") % {"places": places})
    _check_range(attr, number, _fmt(attr, number))
    if quantized == 0:
        quantized = abs(quantized)  # no "-0.00"
    return format(quantized, "f")


def _clean_integer(attr: Attribute, raw: Any) -> int:
    number = _number(attr, raw)
    if number != number.to_integral_value():
        raise _Bad(_("Must be a whole number."))
    _check_range(attr, number, _fmt(attr, number.to_integral_value()))
    return int(number)


def _clean_enum(attr: Attribute, raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise _Bad(_allowed_message(attr))
    text = str(raw).strip()
    for choice in attr.choices:
        if text == choice.key:
            return choice.key
    folded = text.casefold()
    for choice in attr.choices:
        if folded in (choice.key.casefold(), choice.name_zh.casefold(), choice.name_en.casefold()) or any(
            folded == alias.casefold() for alias in choice.aliases
        ):
            return choice.key
    raise _Bad(_allowed_message(attr, text))


def _allowed_message(attr: Attribute, given: str | None = None) -> str:
    allowed = ", ".join(f"{c.key} ({_label(c)})" for c in attr.choices)
    if given is None:
        return _("Not an allowed value; choose one of: %(allowed)s.") % {"allowed": allowed}
    return _("%(value)r is not an allowed value; choose one of: %(allowed)s.") % {
        "value": given[:40],
        "allowed": allowed,
    }


def _clean_boolean(attr: Attribute, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        folded = raw.strip().casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
    raise _Bad(_("Must be true or false."))


def _clean_text(attr: Attribute, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _Bad(_("Must be text."))
    text = raw.strip()
    limit = attr.max_length or 200
    if len(text) > limit:
        raise _Bad(
            _("At most %(limit)d characters (got %(length)d).") % {"limit": limit, "length": len(text)}
        )
    return text


_CLEANERS = {
    "decimal": _clean_decimal,
    "integer": _clean_integer,
    "enum": _clean_enum,
    "boolean": _clean_boolean,
    "text": _clean_text,
}


def clean_value(attr: Attribute, raw: Any) -> Any:
    """One exact value, cleaned; raises ``InvalidInput`` (code ``invalid_spec``) naming the attribute."""
    try:
        return _CLEANERS[attr.type](attr, raw)
    except _Bad as exc:
        raise InvalidInput(str(exc), code="invalid_spec", fields={attr.key: str(exc)}) from None


# -- constraints ------------------------------------------------------------------------------------------


def _clean_constraint(attr: Attribute, raw: Any) -> Any:
    clean = _CLEANERS[attr.type]
    if attr.type in ("decimal", "integer") and isinstance(raw, Mapping):
        unknown = set(raw) - _RANGE_KEYS
        if unknown:
            raise _Bad(_("A range takes only min and max."))
        # validate_spec skipped all-blank ranges, so at least one bound is here.
        bounds = {k: clean(attr, raw[k]) for k in ("min", "max") if not _is_blank(raw.get(k))}
        if "min" in bounds and "max" in bounds and Decimal(bounds["min"]) > Decimal(bounds["max"]):
            raise _Bad(_("The range minimum is greater than its maximum."))
        return bounds
    if attr.type == "enum" and isinstance(raw, list | tuple):
        keys: list[str] = []
        for item in raw:
            key = clean(attr, item)
            if key not in keys:
                keys.append(key)
        return keys
    if isinstance(raw, Mapping | list | tuple):
        if attr.type in ("decimal", "integer"):
            raise _Bad(_("Give a number or a range {min, max}."))
        if attr.type != "enum":
            raise _Bad(_("Give a single value."))
    return clean(attr, raw)


# -- the one entry point ----------------------------------------------------------------------------------


def validate_spec(
    pack: Pack, category_key: str, values: Mapping[str, Any] | None, *, mode: str = "exact"
) -> dict:
    """Clean ``values`` for a category of ``pack`` or refuse them all at once.

    ``mode="exact"`` (a listing): every value is a single value; required attributes must be present.
    ``mode="constraint"`` (a demand, a basket item): decimal/integer may be a range ``{"min", "max"}``
    (either bound optional, inclusive), enum may be a list of allowed keys; nothing is required.
    Blank values (None, "", [], {}, a range with both bounds blank) count as absent. Returns the cleaned
    values in the category's attribute order. Raises
    ``InvalidInput(code="invalid_spec", fields={attr_key: message})`` naming every bad attribute, or
    ``InvalidInput(code="unknown_category")``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    category: Category = pack.category(category_key)
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        message = _("The specification must be an object of attribute values.")
        raise InvalidInput(message, code="invalid_spec", fields={"spec": message})
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, raw in values.items():
        attr = category.get_attribute(key) if isinstance(key, str) else None
        if attr is None:
            errors[str(key)[:64]] = _("Unknown attribute for %(category)s; known: %(known)s.") % {
                "category": _label(category),
                "known": ", ".join(category.attribute_keys()),
            }
            continue
        if _is_blank(raw):
            continue
        try:
            if mode == "exact":
                cleaned[key] = _CLEANERS[attr.type](attr, raw)
            else:
                cleaned[key] = _clean_constraint(attr, raw)
        except _Bad as exc:
            errors[key] = str(exc)
    if mode == "exact":
        for attr in category.attributes:
            if attr.required and attr.key not in cleaned and attr.key not in errors:
                errors[attr.key] = _("This attribute is required.")
    if errors:
        raise InvalidInput(
            _("Invalid specification for %(category)s: %(fields)s.")
            % {"category": _label(category), "fields": ", ".join(errors)},
            code="invalid_spec",
            fields=errors,
        )
    return {a.key: cleaned[a.key] for a in category.attributes if a.key in cleaned}


# -- matching ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpecMatch:
    """How a listing's values meet a demand's constraints.

    ``matches``: every hard constraint holds. ``score``: the share of soft constraints that hold, 0–1
    with 4 decimals (1 when there are none) — for ranking, not for excluding."""

    matches: bool
    score: Decimal
    hard_failed: tuple[str, ...] = ()
    soft_failed: tuple[str, ...] = ()
    soft_matched: tuple[str, ...] = ()


def _lenient_values(category: Category, values: Mapping[str, Any] | None) -> dict[str, Any]:
    """A stored listing's values, each cleaned on its own; one that no longer fits the pack (a choice
    removed in a later pack version) counts as missing instead of failing the whole match."""
    out: dict[str, Any] = {}
    for key, raw in (values or {}).items():
        attr = category.get_attribute(key) if isinstance(key, str) else None
        if attr is None or _is_blank(raw):
            continue
        try:
            out[key] = _CLEANERS[attr.type](attr, raw)
        except _Bad:
            continue
    return out


def _satisfies(attr: Attribute, constraint: Any, value: Any) -> bool:
    if attr.type in ("decimal", "integer"):
        number = Decimal(value)
        if isinstance(constraint, Mapping):
            low, high = constraint.get("min"), constraint.get("max")
            return (low is None or number >= Decimal(low)) and (high is None or number <= Decimal(high))
        return number == Decimal(constraint)
    if attr.type == "enum":
        return value in constraint if isinstance(constraint, list | tuple) else value == constraint
    if attr.type == "text":
        # A constraint "西坪" is met by "安溪县西坪镇": text constraints are case-insensitive "contains".
        return constraint.casefold() in value.casefold()
    return value == constraint


def match_spec(
    pack: Pack, category_key: str, constraints: Mapping[str, Any] | None, values: Mapping[str, Any] | None
) -> SpecMatch:
    """Compare a demand's ``constraints`` (validated strictly, as ``mode="constraint"``) with a listing's
    exact ``values`` (read leniently). A missing listing value fails its constraint. Hard attributes
    decide ``matches``; soft ones (``hard = false``) only make up ``score``."""
    category = pack.category(category_key)
    wanted = validate_spec(pack, category_key, constraints, mode="constraint")
    have = _lenient_values(category, values)
    hard_failed: list[str] = []
    soft_failed: list[str] = []
    soft_matched: list[str] = []
    for key, constraint in wanted.items():
        attr = category.attribute(key)
        ok = key in have and _satisfies(attr, constraint, have[key])
        if attr.hard:
            if not ok:
                hard_failed.append(key)
        else:
            (soft_matched if ok else soft_failed).append(key)
    soft_total = len(soft_matched) + len(soft_failed)
    score = Decimal(1) if soft_total == 0 else Decimal(len(soft_matched)) / Decimal(soft_total)
    return SpecMatch(
        matches=not hard_failed,
        score=score.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
        hard_failed=tuple(hard_failed),
        soft_failed=tuple(soft_failed),
        soft_matched=tuple(soft_matched),
    )


def spec_matches(
    pack: Pack, category_key: str, constraints: Mapping[str, Any] | None, values: Mapping[str, Any] | None
) -> bool:
    """Do a listing's exact ``values`` satisfy every hard constraint of a demand?"""
    return match_spec(pack, category_key, constraints, values).matches
