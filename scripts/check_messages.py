#!/usr/bin/env python3
"""Check the translations: every message is translated, and every compiled .mo matches its .po.

    python scripts/check_messages.py            # run by `python3 dev.py lint`
    python scripts/check_messages.py --no-extract

Fails (exit 1), naming the messages, when
  * a non-English catalog (zh_Hans) has an untranslated or fuzzy entry, or a translation whose
    %(name)s / %s placeholders differ from its msgid's (that would crash or garble the page);
  * a .mo is missing, or differs from its .po (each .po is compiled in memory with polib and the
    entries are compared with the .mo's, read back with polib.mofile);
  * the code has a translatable string that is not in the .po yet (makemessages is run on a copy of
    the package in a temporary folder; skipped with a warning when xgettext is not installed).

English is the source language: its msgstrs stay empty and the msgids are shown as they are.
A .mo older than its .po by modification time is only a warning: git does not keep file times, so
in a fresh clone the order is arbitrary; the content comparison is what decides.

Fix: translate the entries in src/chanlian/locale/zh_Hans/LC_MESSAGES/django.po (remove any "fuzzy"
flag once checked), then compile. From src/chanlian, with CHANLIAN_DEBUG=1:
    python -m chanlian makemessages -l zh_Hans -l en --ignore=.venv --ignore=tests
    python -m chanlian compilemessages
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "chanlian"
LOCALE = PACKAGE / "locale"
SOURCE_LANGUAGE = "en"
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0\- +]*\d*(?:\.\d+)?[sdifr%]")
MAKE = "cd src/chanlian && CHANLIAN_DEBUG=1 python -m chanlian"


def _short(text: str, n: int = 90) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= n else text[: n - 1] + "…"


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _key(entry) -> tuple[str, str]:
    return (entry.msgctxt or "", entry.msgid)


def _placeholders(text: str) -> list[str]:
    return sorted(
        m.group(0) if m.group(1) is None else f"%({m.group(1)})"
        for m in PLACEHOLDER.finditer(text)
        if m.group(0) != "%%"
    )


def _translations(catalog) -> dict[tuple[str, str], tuple[str, ...]]:
    """What a compiled catalog holds: translated entries' msgstr (or plural forms) by (msgctxt, msgid)."""
    out = {}
    for entry in catalog:
        if not entry.msgid:
            continue
        if entry.msgid_plural:
            forms = tuple(entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural))
            out[_key(entry)] = (entry.msgid_plural, *forms)
        else:
            out[_key(entry)] = (entry.msgstr,)
    return out


def check_catalog(po_path: Path, problems: list[str], warnings: list[str]) -> polib.POFile:
    language = po_path.parent.parent.name
    rel = _rel(po_path)
    po = polib.pofile(str(po_path))
    live = [e for e in po if not e.obsolete]

    if language != SOURCE_LANGUAGE:
        if po.metadata_is_fuzzy:
            problems.append(f"{rel}: the header is marked fuzzy (remove '#, fuzzy' above msgid \"\")")
        untranslated = [e for e in live if not e.translated() and "fuzzy" not in e.flags]
        fuzzy = [e for e in live if "fuzzy" in e.flags]
        if untranslated:
            problems.append(
                f"{rel}: {len(untranslated)} untranslated:\n"
                + "\n".join(f"    msgid {_short(e.msgid)!r}" for e in untranslated)
            )
        if fuzzy:
            problems.append(
                f"{rel}: {len(fuzzy)} fuzzy (check the translation, then drop the flag):\n"
                + "\n".join(f"    msgid {_short(e.msgid)!r}" for e in fuzzy)
            )
        mismatched = []
        for e in live:
            if not e.translated():
                continue
            if e.msgid_plural:
                pairs = [(e.msgid_plural, s) for s in e.msgstr_plural.values()]
            else:
                pairs = [(e.msgid, e.msgstr)]
            if any(set(_placeholders(src)) != set(_placeholders(dst)) for src, dst in pairs):
                mismatched.append(e)
        if mismatched:
            problems.append(
                f"{rel}: {len(mismatched)} translation(s) with other placeholders than the msgid:\n"
                + "\n".join(f"    msgid {_short(e.msgid)!r} → {_short(e.msgstr or '')!r}" for e in mismatched)
            )

    mo_path = po_path.with_suffix(".mo")
    if not mo_path.exists():
        problems.append(f"{_rel(mo_path)}: missing; run `{MAKE} compilemessages`")
        return po
    expected_mo = polib.mofile(po.to_binary())
    actual_mo = polib.mofile(str(mo_path))
    expected, actual = _translations(expected_mo), _translations(actual_mo)
    if expected != actual or expected_mo.metadata.get("Plural-Forms") != actual_mo.metadata.get(
        "Plural-Forms"
    ):
        stale = sorted({k for k in expected.keys() | actual.keys() if expected.get(k) != actual.get(k)})
        shown = "\n".join(
            f"    msgid {_short(msgid)!r}" + (f" (context {ctx!r})" if ctx else "")
            for ctx, msgid in stale[:20]
        )
        more = f"\n    … and {len(stale) - 20} more" if len(stale) > 20 else ""
        problems.append(
            f"{_rel(mo_path)}: differs from its .po in {len(stale)} message(s); "
            f"run `{MAKE} compilemessages`:\n{shown}{more}"
        )
    elif mo_path.stat().st_mtime < po_path.stat().st_mtime:
        warnings.append(f"{_rel(mo_path)} is older than its .po but has the same messages")
    return po


def extract(languages: list[str]) -> dict[str, set[tuple[str, str]]] | None:
    """The msgids makemessages finds in the code now, per language, from a copy of the package."""
    if shutil.which("xgettext") is None:
        return None
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chanlian.settings")
    os.environ.setdefault("CHANLIAN_DEBUG", "1")
    with tempfile.TemporaryDirectory(prefix="chanlian-messages-") as tmp:
        # the settings create their data folder: keep it out of the work tree
        os.environ.setdefault("CHANLIAN_DATA_DIR", str(Path(tmp) / "data"))
        import django
        from django.core.management import call_command

        django.setup()
        copy = Path(tmp) / "chanlian"
        shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "*.pyc"))
        cwd = os.getcwd()
        os.chdir(copy)
        try:
            call_command("makemessages", locale=languages, ignore_patterns=[".venv", "tests"], verbosity=0)
        finally:
            os.chdir(cwd)
        found = {}
        for language in languages:
            po = polib.pofile(str(copy / "locale" / language / "LC_MESSAGES" / "django.po"))
            found[language] = {_key(e) for e in po if not e.obsolete and e.msgid}
        return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-extract", action="store_true", help="skip the makemessages comparison")
    parser.add_argument(
        "--locale", type=Path, default=LOCALE, help="the locale folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    locale = args.locale.resolve()

    problems: list[str] = []
    warnings: list[str] = []
    po_files = sorted(locale.glob("*/LC_MESSAGES/django.po"))
    if not po_files:
        problems.append(f"no catalogs under {_rel(locale)}")
    catalogs = {p.parent.parent.name: check_catalog(p, problems, warnings) for p in po_files}
    for language in ("zh_Hans", SOURCE_LANGUAGE):
        if language not in catalogs:
            problems.append(f"{_rel(locale)}/{language}/LC_MESSAGES/django.po is missing")

    if not args.no_extract and catalogs:
        found = extract(sorted(catalogs))
        if found is None:
            warnings.append(
                "xgettext not found (apt-get install gettext): did not compare the .po files with "
                "the code's messages"
            )
        else:
            for language, keys in found.items():
                have = {_key(e) for e in catalogs[language] if not e.obsolete and e.msgid}
                new = sorted(keys - have)
                gone = sorted(have - keys)
                if new:
                    problems.append(
                        f"locale/{language}: {len(new)} message(s) in the code are not in the .po; run "
                        f"`{MAKE} makemessages -l zh_Hans -l en --ignore=.venv --ignore=tests`, translate, "
                        "compile:\n" + "\n".join(f"    msgid {_short(m)!r}" for _, m in new)
                    )
                if gone:
                    warnings.append(
                        f"locale/{language}: {len(gone)} message(s) in the .po are no longer used "
                        "(makemessages marks them obsolete)"
                    )

    for w in warnings:
        print(f"warning: {w}")
    if problems:
        print("Translations are not ready:\n", file=sys.stderr)
        for p in problems:
            print(f"- {p}", file=sys.stderr)
        print("\nSee the docstring of scripts/check_messages.py for the commands.", file=sys.stderr)
        return 1
    total = sum(len([e for e in c if not e.obsolete]) for c in catalogs.values())
    print(f"translations ok: {', '.join(sorted(catalogs))} ({total} entries), .mo files match their .po")
    return 0


if __name__ == "__main__":
    sys.exit(main())
