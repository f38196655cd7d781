"""Named personas in two clusters, built through the real services (see tests/personas.py)."""

import pytest

from tests.personas import build_world


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
