import pytest
from django.test import Client


@pytest.fixture
def client_as(world):
    """``client_as(persona)`` → a test Client signed in as that persona (None: anonymous)."""

    def make(name: str | None = None, **headers):
        client = Client(**headers)
        if name is not None:
            client.force_login(world.users[name])
        return client

    return make
