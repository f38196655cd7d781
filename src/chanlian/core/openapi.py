"""OpenAPI post-processing: document the error shape every endpoint may answer with.

Errors are ``{"code", "detail", "fields"?}`` (ARCHITECTURE.md); drf-spectacular only knows the success
responses, so the hook adds the error responses each kind of operation can produce.
"""

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "detail"],
    "properties": {
        "code": {"type": "string", "description": "machine-readable error code, e.g. invalid_uscc"},
        "detail": {"type": "string", "description": "human message in the request's language"},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "per-field messages, for bad input",
        },
    },
}

DESCRIPTIONS = {
    "400": "Bad input: nothing was changed.",
    "401": "Not signed in.",
    "403": "Signed in, but not allowed.",
    "404": "Missing, or not yours to see.",
    "409": "Conflict with the current state (illegal transition, duplicate, replay with another key).",
    "429": "Too many wrong passwords (too_many_attempts); Retry-After gives the seconds to wait.",
}

# Operations that check a password (core.reauth): they may answer 429 too_many_attempts.
PASSWORD_OPERATIONS = ("/auth/token/", "/contract/sign/", "/receivables/{id}/confirm/")


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            codes = ["400", "401", "403", "404"]
            if method != "get":
                codes.append("409")
            if method == "post" and path.endswith(PASSWORD_OPERATIONS):
                codes.append("429")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": DESCRIPTIONS[code], "content": ref})
    return result
