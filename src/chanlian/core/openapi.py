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
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            codes = ["400", "401", "403", "404"]
            if method != "get":
                codes.append("409")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": DESCRIPTIONS[code], "content": ref})
    return result
