import pytest

from tests.trade.factories import add_rival


@pytest.fixture
def market(world):
    """The personas plus a competing tea supplier (``rival``) and a second buyer (``rival_buyer``)."""
    return add_rival(world)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Photos go to a temporary MEDIA_ROOT, never to the developer's var/."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
