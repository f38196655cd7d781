import pytest

from tests.trade.factories import add_rival


@pytest.fixture
def market(world):
    """The personas plus a competing tea supplier (``rival``) and a second buyer (``rival_buyer``)."""
    return add_rival(world)
