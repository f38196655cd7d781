"""API plumbing shared by every app: pagination and the error shape ``{"code", "detail", "fields"?}``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ServiceError


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _messages(value) -> list[str]:
    """Every message under a field, however DRF nested them (list items, child fields)."""
    if isinstance(value, dict):
        return [f"{k}: {m}" for k, v in value.items() for m in _messages(v)]
    if isinstance(value, list | tuple):
        return [m for v in value for m in _messages(v)]
    return [str(value)]


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {str(k): _messages(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": _messages(detail)}
    return {}


# DRF's own field error codes, folded into the few the API documents.
_FIELD_CODES = {
    "required": "required",
    "blank": "required",
    "null": "required",
    "max_length": "too_long",
    "min_length": "too_short",
    "max_value": "out_of_range",
    "min_value": "out_of_range",
}


def _field_code(codes) -> str:
    while isinstance(codes, dict | list) and codes:
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return _FIELD_CODES.get(codes, "invalid") if isinstance(codes, str) else "invalid"


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        response = Response(exc.as_dict(), status=exc.status)
        if exc.status == 429 and exc.fields.get("retry_after"):
            response["Retry-After"] = str(exc.fields["retry_after"])
        return response
    if isinstance(exc, Http404):
        return Response({"code": "not_found", "detail": _("Not found.")}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first_field, messages = next(iter(fields.items()), ("", [_("Invalid input.")]))
        detail = (
            f"{first_field}: {messages[0]}"
            if first_field and first_field != "non_field_errors"
            else messages[0]
        )
        body = {"code": _field_code(exc.get_codes()), "detail": detail, "fields": fields}
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = {"code": code, "detail": str(detail)}
    response.data = body
    return response


class ScopedObjectMixin:
    """``get_object`` from the view's restricted queryset; a bad or foreign id is a 404."""

    def get_object(self):
        from .params import path_id
        from .permissions import one_or_404

        # get_queryset() is a selector's result, already restricted to what the user may see.
        obj = one_or_404(self.get_queryset(), pk=path_id(self.kwargs[self.lookup_field]))
        self.check_object_permissions(self.request, obj)
        return obj
