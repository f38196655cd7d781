import pytest

from tests.trade.factories import add_rival


@pytest.fixture
def market(world):
    """The personas plus ``rival`` (a second verified tea supplier) and ``rival_buyer``."""
    return add_rival(world)
