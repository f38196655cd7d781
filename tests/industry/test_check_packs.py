"""``chanlian check_packs``: a summary per good pack, the file and key path of a bad one, non-zero exit."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from .test_packs import DEMO


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("check_packs", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_shipped_packs_pass():
    out, err = run()
    assert "3 pack(s) valid" in out
    assert "tea 1.0.0 茶叶（乌龙茶·安溪铁观音）" in out
    assert "stainless 1.0.0" in out and "vegetables 1.0.0" in out
    assert err == ""


def test_a_bad_operator_pack_fails_and_is_named(tmp_path):
    (tmp_path / "demo.toml").write_text(DEMO.replace("weight = 0.4", "weight = 0.5"), encoding="utf-8")
    out, err = StringIO(), StringIO()
    with override_settings(CHANLIAN_PACK_DIRS=[str(tmp_path)]), pytest.raises(CommandError, match="1 of 4"):
        call_command("check_packs", stdout=out, stderr=err)
    assert "demo.toml: basket.items: weights sum to 1.1, not 1" in err.getvalue()
    assert "tea 1.0.0" in out.getvalue()  # the good ones are still checked and reported


def test_check_given_files(tmp_path):
    good = tmp_path / "demo.toml"
    good.write_text(DEMO, encoding="utf-8")
    out, _ = run(str(good))
    assert "ok   demo 1.0.0 示例 / Demo" in out and "1 pack(s) valid" in out
