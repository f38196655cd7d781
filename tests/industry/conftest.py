import pytest

from chanlian.industry.packs import clear_pack_cache


@pytest.fixture(autouse=True)
def _fresh_packs():
    """Each test sees the pack directories as they are now (tests add operator pack dirs)."""
    clear_pack_cache()
    yield
    clear_pack_cache()
