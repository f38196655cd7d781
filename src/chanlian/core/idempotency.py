"""``Idempotency-Key`` for the POSTs that move money: a repeat gets the first result, never a second effect.

Decorate a DRF view method (``APIView.post`` or a viewset action)::

    class PayOrder(APIView):
        @idempotent
        def post(self, request, pk): ...

With the header, the first request runs the view **and** stores its response in one transaction; a
repeat with the same key, method, path and body answers the stored status and body with
``Idempotent-Replay: true``; the same key with anything else is 409 ``idempotency_key_reused``; a key that
is empty, longer than 128 characters or not printable ASCII is 400 ``invalid_idempotency_key``. Without
the header the view simply runs.

Concurrency: the record's unique (user, key) is inserted *before* the view runs, inside the transaction.
A twin request's insert waits on that unique index until the first commits, then fails and replays what
the first stored — so of any number of concurrent identical requests exactly one runs the view. Only
successes (2xx) are stored: a refusal rolls the whole transaction back (the record too), it changed
nothing, and the client may retry with the same key after fixing the cause. Keys are per user.
"""

from __future__ import annotations

import hashlib
import json
from functools import wraps

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .errors import Conflict, InvalidInput
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replay"
MAX_KEY = 128

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "1–128 printable ASCII characters. A repeat with the same key and body returns the first "
        "response (header Idempotent-Replay: true); the same key with another body is 409."
    ),
)


def clean_key(value: str) -> str:
    if not value or len(value) > MAX_KEY or not all(33 <= ord(ch) <= 126 for ch in value):
        raise InvalidInput(
            _("An idempotency key is 1 to 128 printable ASCII characters without spaces."),
            code="invalid_idempotency_key",
        )
    return value


def _canonical(value):
    """The request body as plain data: form data (a QueryDict) becomes a dict of lists."""
    if hasattr(value, "lists"):
        return {k: v for k, v in value.lists()}
    return value


def request_hash(request) -> str:
    body = json.dumps(
        _canonical(request.data), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _replay(record: IdempotencyRecord, request, digest: str) -> Response:
    if (
        record.request_hash != digest
        or record.method != request.method
        or record.path != request.get_full_path()[:512]
    ):
        raise Conflict(
            _("This Idempotency-Key was already used for a different request."), code="idempotency_key_reused"
        )
    return Response(record.response_body, status=record.response_status, headers={REPLAY_HEADER: "true"})


def _stored_body(response):
    data = getattr(response, "data", None)
    if data is None:
        return None
    return json.loads(JSONRenderer().render(data) or b"null")


def run_idempotent(request, view):
    """Run ``view()`` (which returns a DRF ``Response``) under ``request``'s ``Idempotency-Key``, if any."""
    raw = request.headers.get(HEADER)
    user = getattr(request, "user", None)
    if raw is None or not getattr(user, "is_authenticated", False):
        return view()
    key = clean_key(raw.strip())
    digest = request_hash(request)
    with transaction.atomic():
        existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if existing is not None:
            return _replay(existing, request, digest)
        record = IdempotencyRecord(
            user=user,
            key=key,
            method=request.method,
            path=request.get_full_path()[:512],
            request_hash=digest,
            response_status=0,  # set below, in the same transaction, before anyone can read it
        )
        try:
            with transaction.atomic():
                record.save()
        except IntegrityError:
            # A twin committed first (its insert held ours until then): answer what it answered.
            return _replay(IdempotencyRecord.objects.get(user=user, key=key), request, digest)
        response = view()
        if not 200 <= response.status_code < 300:
            transaction.set_rollback(True)  # a refusal changed nothing; the key stays free
            return response
        record.response_status = response.status_code
        record.response_body = _stored_body(response)
        record.save(update_fields=["response_status", "response_body"])
    return response


def idempotent(method):
    """Decorator for a DRF view method handling a POST that moves money (see the module docstring)."""

    @wraps(method)
    def wrapper(self, request, *args, **kwargs):
        return run_idempotent(request, lambda: method(self, request, *args, **kwargs))

    return extend_schema(parameters=[IDEMPOTENCY_PARAMETER])(wrapper)
