"""RFC 9457 problem details: one table from domain error to HTTP status, and the one
domain-error handler at the edge (problem+json, or the HTML error page a page asks for)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry import errors

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://guarantee-registry.org/problems/"

STATUS: dict[type[errors.RegistryError], int] = {
    errors.InvalidInput: 422,
    errors.CanonicalizationError: 422,
    errors.VerificationError: 422,
    errors.PolicyViolation: 403,
    errors.Forbidden: 403,
    errors.Unauthenticated: 401,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.RateLimited: 429,
    errors.ConfigurationError: 500,
}

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


HtmlErrorPage = Callable[[Request, errors.RegistryError], Response | None]
"""Renders the HTML error page of a domain error, or None to answer with problem+json."""


def status_for(error: errors.RegistryError) -> int:
    explicit = getattr(error, "http_status", None)  # an error that names its own status
    if isinstance(explicit, int):
        return explicit
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def problem(
    status: int, detail: str, code: str, instance: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI, html_error_page: HtmlErrorPage | None = None) -> None:
    """The error handlers of ``app``: a domain error becomes problem details, or the HTML
    error page that ``html_error_page`` renders for it (a page's error, asked for by a
    browser)."""
    document(app)

    @app.exception_handler(errors.RegistryError)
    async def _domain(request: Request, exc: errors.RegistryError) -> Response:
        page = html_error_page(request, exc) if html_error_page is not None else None
        if page is not None:
            return page
        response = problem(status_for(exc), exc.detail, exc.code, request.url.path, **exc.extra)
        if isinstance(exc, errors.RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(StatementError)
    async def _unstorable(request: Request, exc: StatementError) -> JSONResponse:
        # A value the database cannot hold (PostgreSQL refuses NUL characters in text; a
        # date beyond year 1..9999 once converted to UTC; an integer beyond 64 bits) is the
        # client's input, found by the fuzzer in places no schema names: a 422, not a 500.
        if isinstance(exc, DataError) or isinstance(exc.orig, OverflowError):
            return problem(
                422,
                "a value cannot be stored: out of range, or it contains a NUL character",
                "invalid-input",
                request.url.path,
            )
        raise exc

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        found = [
            {
                "path": ".".join(str(p) for p in e["loc"] if p != "body") or "(body)",
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in found[:5])
        if malformed:
            return problem(400, f"malformed JSON: {summary}", "malformed-json", request.url.path)
        return problem(422, summary, "invalid-input", request.url.path, errors=found)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and html_error_page is not None:
            # A path no route serves (``/e/CODE/foo``): a browser on the pages gets the HTML
            # not-found page in its language; the API and JSON clients get problem details.
            page = html_error_page(request, errors.NotFound(str(exc.detail), route=False))
            if page is not None:
                return page
        code = TITLES.get(exc.status_code, "error").lower().replace(" ", "-")
        return problem(exc.status_code, str(exc.detail), code, request.url.path)


# --- the problems in the OpenAPI document -------------------------------------------------

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": TYPE_BASE + "<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "rule": {"type": "string", "description": "the policy rule that refused the request"},
        "errors": {
            "type": "array",
            "description": "for 422: each invalid field",
            "items": {"type": "object"},
        },
    },
    "additionalProperties": True,
}
BEARER_SCHEME = "bearerAuth"
_WRITE_METHODS = {"post", "put", "patch", "delete"}
_DESCRIPTIONS = {
    400: "malformed JSON",
    401: "no API token, or an unknown, revoked or expired one",
    403: "the account's role or organization may not do this, or the signing policy refuses",
    404: "no such resource",
    409: "conflicts with what the registry holds (duplicate, decided, stale chain)",
    413: "request body too large",
    415: "unsupported content type",
    422: "invalid input",
}


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS.get(status, TITLES.get(status, "error")),
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _statuses(method: str, operation: dict[str, Any], authenticated: bool) -> set[int]:
    """The problem statuses an operation can answer with (every one is an RFC 9457 body)."""
    found = {404, 422}  # a bad path or query value; a lookup that finds nothing
    if "requestBody" in operation or method in _WRITE_METHODS:
        found |= {400, 413, 415}
    if authenticated:
        found |= {401, 403}
    if method in _WRITE_METHODS:
        found.add(409)
    return found


def document(app: FastAPI) -> None:
    """Make ``app.openapi()`` tell the truth about errors: every problem status an operation
    can answer with, as ``application/problem+json`` (FastAPI documents only its own 422
    shape, which this API never sends), and the bearer-token scheme on the operations that
    take one, so clients (and schemathesis) can check every response against the document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(name, None)
        components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "an API token: POST /api/v1/tokens, or `registry` admin commands",
        }
        for path_item in schema.get("paths", {}).values():
            for method, operation in path_item.items():
                if method not in {"get", "head", "options", "post", "put", "patch", "delete"}:
                    continue
                parameters = operation.get("parameters", [])
                token = [
                    p
                    for p in parameters
                    if p.get("in") == "header" and p.get("name", "").lower() == "authorization"
                ]
                if token:
                    # The header is read by the bearer scheme: documented once, as security.
                    operation["parameters"] = [p for p in parameters if p not in token]
                    if not operation["parameters"]:
                        del operation["parameters"]
                    operation["security"] = [{BEARER_SCHEME: []}]
                responses = operation.setdefault("responses", {})
                for status in sorted(_statuses(method, operation, bool(token))):
                    documented = responses.get(str(status), {})
                    problem = _problem_response(status)
                    if documented.get("description") not in (None, "Validation Error"):
                        problem["description"] = documented["description"]
                    responses[str(status)] = problem
                operation["responses"] = dict(sorted(responses.items()))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
