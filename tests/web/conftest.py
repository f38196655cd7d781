import pytest
from django.conf import settings
from django.test import Client


@pytest.fixture
def client_as(world):
    """``client_as(persona)`` → a test Client signed in as that persona (None: anonymous)."""

    def make(name: str | None = None, *, language: str | None = None, **headers):
        client = Client(**headers)
        if language is not None:
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language  # what the language switch sets
        if name is not None:
            client.force_login(world.users[name])
        return client

    return make
