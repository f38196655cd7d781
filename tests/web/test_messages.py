"""scripts/check_messages.py: the shipped catalogs pass; an untranslated, fuzzy or stale message is named."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "src" / "chanlian" / "locale"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("check_messages", ROOT / "scripts" / "check_messages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def locale(tmp_path):
    target = tmp_path / "locale"
    shutil.copytree(LOCALE, target)
    return target


def _zh(locale: Path) -> Path:
    return locale / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_shipped_catalogs_are_complete_and_compiled(check, capsys):
    assert check.main(["--no-extract"]) == 0, capsys.readouterr().err


def test_every_page_string_has_a_chinese_translation():
    po = polib.pofile(str(LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    web = [e for e in po if any(path.startswith("web/") for path, _ in e.occurrences)]
    assert len(web) > 100
    assert all(e.translated() for e in web)


def test_untranslated_fuzzy_and_stale_messages_are_named(check, locale, capsys):
    po = polib.pofile(str(_zh(locale)))
    po.append(polib.POEntry(msgid="A brand-new message", msgstr=""))
    po.find("Verified").flags.append("fuzzy")
    po.save()
    assert check.main(["--no-extract", "--locale", str(locale)]) == 1
    err = capsys.readouterr().err
    assert "1 untranslated" in err and "'A brand-new message'" in err
    assert "1 fuzzy" in err and "'Verified'" in err
    assert "django.mo: differs from its .po" in err  # the fuzzy one is no longer compiled


def test_a_changed_translation_without_compiling_is_caught(check, locale, capsys):
    po = polib.pofile(str(_zh(locale)))
    po.find("Log in").msgstr = "登入"
    po.save()
    assert check.main(["--no-extract", "--locale", str(locale)]) == 1
    err = capsys.readouterr().err
    assert "differs from its .po in 1 message(s)" in err and "'Log in'" in err
    po.save_as_mofile(str(_zh(locale).with_suffix(".mo")))
    assert check.main(["--no-extract", "--locale", str(locale)]) == 0


def test_placeholders_must_survive_translation(check, locale, capsys):
    po = polib.pofile(str(_zh(locale)))
    po.find("Hello, %(name)s").msgstr = "您好，%(user)s"
    po.save()
    po.save_as_mofile(str(_zh(locale).with_suffix(".mo")))
    assert check.main(["--no-extract", "--locale", str(locale)]) == 1
    assert "other placeholders" in capsys.readouterr().err


def test_a_missing_mo_is_caught(check, locale, capsys):
    _zh(locale).with_suffix(".mo").unlink()
    assert check.main(["--no-extract", "--locale", str(locale)]) == 1
    assert "django.mo: missing" in capsys.readouterr().err
