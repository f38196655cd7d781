"""Read-only helpers of the pages: names in the active language, region input, a few aggregates.

Nothing here writes. Reads of permission-scoped data start from ``restrict`` or a registry selector.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from chanlian.core.errors import ServiceError
from chanlian.regions.selectors import read_region_code as region_code  # noqa: F401


def _attr(obj, name: str):
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def is_english() -> bool:
    return (get_language() or "").lower().startswith("en")


def local_name(obj) -> str:
    """``name_zh`` or ``name_en`` of a pack, stage or category, by the active language (then name, key)."""
    if obj is None:
        return ""
    order = ("name_en", "name_zh") if is_english() else ("name_zh", "name_en")
    for attr in (*order, "name", "label", "key"):
        value = _attr(obj, attr)
        if value and not callable(value):
            return str(value)
    return str(obj)


def pack_for(pack_key: str):
    """The industry pack of ``pack_key``, or None when it is unknown (a page still renders)."""
    try:
        from chanlian.industry.packs import get_pack

        return get_pack(pack_key)
    except (ServiceError, LookupError, ImportError, ValueError):
        return None


@dataclass(frozen=True)
class StageView:
    key: str
    name: str
    kind: str = "chain"  # chain (the main chain), input (upstream supplies) or service


def stages_of(pack) -> list[StageView]:
    """The pack's chain stages in the pack's order, named in the active language."""
    if pack is None:
        return []
    return [
        StageView(key=str(_attr(s, "key")), name=local_name(s), kind=str(_attr(s, "kind") or "chain"))
        for s in (_attr(pack, "stages") or [])
    ]


KIND_ORDER = ("input", "chain", "service")
KIND_LABELS = {"input": _("Upstream inputs"), "chain": _("Main chain"), "service": _("Supporting services")}


def stage_choice_groups(packs) -> list[tuple[str, list[tuple[str, str]]]]:
    """Chain stages of one or more packs as grouped choices (upstream inputs, main chain, services).

    A stage key that two packs share is offered once, under the first pack's name for it.
    """
    seen: dict[str, StageView] = {}
    for pack in packs:
        for stage in stages_of(pack):
            seen.setdefault(stage.key, stage)
    kinds = [k for k in KIND_ORDER if any(s.kind == k for s in seen.values())]
    kinds += sorted({s.kind for s in seen.values()} - set(KIND_ORDER))
    return [
        (str(KIND_LABELS.get(kind, kind)), [(s.key, s.name) for s in seen.values() if s.kind == kind])
        for kind in kinds
    ]


def stage_name(pack, key: str) -> str:
    for stage in (_attr(pack, "stages") or []) if pack is not None else []:
        if str(_attr(stage, "key")) == key:
            return local_name(stage)
    return key


def categories_of(pack) -> list[str]:
    if pack is None:
        return []
    return [local_name(c) for c in (_attr(pack, "categories") or [])]


class PackCache:
    """Per-request memo of packs by key, so a page of rows looks each pack up once."""

    def __init__(self) -> None:
        self._packs: dict[str, object] = {}

    def get(self, pack_key: str):
        if pack_key not in self._packs:
            self._packs[pack_key] = pack_for(pack_key)
        return self._packs[pack_key]

    def stage_name(self, pack_key: str, stage: str) -> str:
        return stage_name(self.get(pack_key), stage)
