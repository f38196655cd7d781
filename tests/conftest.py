"""Named personas in two clusters, built through the real services (see tests/personas.py)."""

import pytest

from tests.personas import build_world


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    return transactional or bool({"transactional_db", "live_server"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Transactional tests flush the database when they end, regions included (a migration loads them):
    put them back before such a test starts."""
    if _is_transactional(request):
        request.getfixturevalue("transactional_db")
        from chanlian.regions.loader import load_regions
        from chanlian.regions.models import Region

        if not Region.objects.exists():
            load_regions()


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def api(world):
    """``api(persona)`` → an APIClient authenticated as that persona, speaking English errors."""
    from rest_framework.test import APIClient

    def make(name: str | None):
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        if name is not None:
            client.force_authenticate(world.users[name])
        return client

    return make
