"""Route declaration: auth, existence checks, body parsing and error mapping in one place.

`@route(...)` registers a Chalice route and records what OpenAPI needs to describe it. The
checks run in the contract's order: 401, 403, 404 (site, then user), 400 (the body), then
the handler. Handlers receive a `Call` and return a response model, a dict or a `Reply`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, CORSConfig, Response
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from chalicelib import errors
from chalicelib.auth import Principal, authenticate
from chalicelib.config import settings
from chalicelib.models.base import ResponseModel, validate_uuid
from chalicelib.observability import logger

MAX_BODY_BYTES = 64 * 1024
# Objects and arrays nest at most this deep in a request body, the body itself being level 1
# (docs/reliability.md): DynamoDB stores at most 32 levels, and no decoder, validator or serializer
# may recurse further than that. Checked on the raw text before decoding.
MAX_JSON_DEPTH = 32


@dataclass
class RouteSpec:
    path: str
    method: str
    role: str | None  # None: public
    summary: str
    tag: str
    body: Any  # a pydantic model or any type a TypeAdapter takes (e.g. a discriminated union)
    response: Any
    status: int
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The 409 error types the route can answer (none: the document lists no 409 for it).
    conflicts: tuple[str, ...] = ()
    # (path parameter, the collection it names), in path order.
    resources: tuple[tuple[str, str], ...] = ()
    # Request headers the route reads, and headers its success answer carries (OpenAPI objects
    # without `name`/`in`: the schema and a description).
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)
    response_headers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The handler's name (`submit_activity`): the document's operationId, in camelCase, which
    # generated clients name their methods after.
    operation: str = ""
    description: str = ""  # the handler's docstring: what the route does, for the document


ROUTES: list[RouteSpec] = []

# A loader raises the resource's 404 (SiteNotFound, UserNotFound, ActivityNotFound, NotFound)
# when the named resource does not exist; it is given the call (site resolved) and the value.
Loader = Callable[["Call", str], None]
RESOURCES: dict[str, Loader] = {}
_PARAM = re.compile(r"\{([^}]+)\}")


def resource(collection: str, loader: Loader) -> None:
    """Declare how a path parameter after `/{collection}/` is found (its 404)."""
    RESOURCES[collection] = loader


def path_resources(path: str) -> tuple[tuple[str, str], ...]:
    """Each path parameter with the collection segment right before it."""
    segments = path.strip("/").split("/")
    found = []
    for i, segment in enumerate(segments):
        match = _PARAM.fullmatch(segment)
        if match:
            found.append((match.group(1), segments[i - 1] if i else ""))
    return tuple(found)


@dataclass
class Reply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """What a handler gets: the caller, path parameters, parsed body, query, site and user."""

    principal: Principal | None
    params: dict[str, str]
    body: Any
    query: dict[str, list[str]]
    headers: dict[str, str]
    site: dict[str, Any] | None = None
    user: dict[str, Any] | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    @property
    def by(self) -> str:
        return self.principal.by if self.principal else "anonymous"


def error_response(err: errors.ApiError) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    if isinstance(err, errors.RateLimited | errors.ServiceUnavailable):
        headers["Retry-After"] = str(err.retry_after)
    return Response(body=json.dumps(err.body()), status_code=err.status, headers=headers)


def pydantic_details(exc: PydanticValidationError, prefix: str = "", raw: Any = None) -> list[dict[str, str]]:
    """One detail per problem, with the client's dotted field path.

    A discriminated union reports locations under its tag value (`attrs.point.points.0`);
    the client's field has no such segment, so tag segments are dropped by walking the raw
    body. A model-level check may name its field as `field.path: message`.
    """
    details = []
    for problem in exc.errors():
        loc: list[str] = []
        node = raw
        for part in problem["loc"]:
            text = str(part)
            if text.startswith(("function-", "tagged-union")):
                continue
            if isinstance(node, dict) and text not in node and text in (node.get("type"), node.get("kind")):
                continue  # the discriminator's tag value, not a field
            loc.append(text)
            if isinstance(node, dict):
                node = node.get(text)
            elif isinstance(node, list) and text.isdigit() and int(text) < len(node):
                node = node[int(text)]
            else:
                node = None
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        elif problem["type"] == "string_pattern_mismatch":
            message = pattern_rule(str((problem.get("ctx") or {}).get("pattern", "")))
        elif problem["type"] in ("too_short", "string_too_short") and isinstance(problem.get("input"), str):
            # A length checked after a validator reads "Value should have at least 1 item after validation".
            least = (problem.get("ctx") or {}).get("min_length", 1)
            message = "must not be empty" if least == 1 else f"must be at least {least} characters"
        named = _NAMED.match(message) if problem["type"] == "value_error" else None
        if named:
            loc.append(named.group(1))
            message = named.group(2)
        dotted = ".".join(loc)
        details.append({"field": (prefix + dotted) if dotted else prefix.rstrip(".") or "body",
                        "message": message})
    return details


_NAMED = re.compile(r"^([A-Za-z][A-Za-z0-9_.]*): (.+)$", re.S)

# Each pattern a model declares, said in words: people read these messages, not regexes
# (issue 18, defect 3). tests/integration/test_hardening_api.py checks that every pattern of
# the OpenAPI document has its sentence here.
PATTERN_RULES = {
    r"^$|^[^@\s]+@[^@\s]+$": "must be an email address (name@example.com), or empty",
    r"^$|^https?://\S+$": "must be an http:// or https:// address without spaces, or empty",
    r"^[a-z0-9][a-z0-9_-]{0,63}$": "must be 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter or a digit",
    r"^[a-z0-9_]{1,64}$": "must be 1 to 64 lowercase letters, digits or '_'",
    r"^[0-9A-Za-z_-]+$": "must be letters, digits, '_' or '-'",
    r"^[a-z0-9][a-z0-9-]{1,62}$": "must be 2 to 63 lowercase letters, digits or '-', starting with a letter or a digit",
    r"^\S(.*\S)?$": "must not start or end with a space",
}


def pattern_rule(pattern: str) -> str:
    return PATTERN_RULES.get(pattern, "has characters that are not allowed here")


@lru_cache(maxsize=64)
def adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def resolve(kind: Any) -> Any:
    """A model given as `"package.module:Name"` is imported on first use.

    Routes name their models by path so that importing the API handler (every cold start)
    does not build every pydantic model of every route; a route's first request does.
    """
    if isinstance(kind, str):
        return _resolve_path(kind)
    return kind


@lru_cache(maxsize=128)
def _resolve_path(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def parse_model(model: Any, raw: Any, prefix: str = "") -> Any:
    try:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate(raw)
        return adapter(model).validate_python(raw)
    except PydanticValidationError as exc:
        details = pydantic_details(exc, prefix, raw)
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:3])
        raise errors.ValidationError(f"invalid request: {summary}", details) from exc


_JSON_TOKENS = re.compile(r'[\[\]{}"\\]')


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether objects/arrays in `text` nest deeper than `limit`, strings skipped; no recursion.

    Only the brackets, quotes and backslashes are visited (a regex finds them), and a body
    with at most `limit` opening brackets cannot nest deeper, so most bodies cost one count.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = False
    skip = -1
    for match in _JSON_TOKENS.finditer(text):
        at = match.start()
        if at == skip:
            continue
        char = text[at]
        if in_string:
            if char == "\\":
                skip = at + 1  # the escaped character, whatever it is
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse_json_body(raw: bytes | str | None, *, required: bool = True) -> Any:
    """The decoded body: 400 when absent, not JSON, or nested deeper than MAX_JSON_DEPTH."""
    if raw is None or raw in (b"", ""):
        if not required:
            return None
        raise errors.ValidationError("a JSON body is required", [{"field": "body", "message": "required"}])
    if len(raw) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        # As json.loads(bytes) does (UTF-8, -16 or -32), so the depth is measured on the text
        # the decoder will read, not on bytes that may belong to wider characters.
        text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(raw, bytes) else raw
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.ValidationError(
            f"the body is not valid JSON: {exc}", [{"field": "body", "message": "invalid JSON"}]) from exc
    if json_depth_exceeds(text):
        message = f"nests objects and arrays deeper than {MAX_JSON_DEPTH} levels (the limit; the body is level 1)"
        raise errors.ValidationError(f"body: {message}", [{"field": "body", "message": message}])
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise errors.ValidationError(
            f"the body is not valid JSON: {exc}", [{"field": "body", "message": "invalid JSON"}]
        ) from exc


def _serialise(result: Any) -> Reply:
    reply = result if isinstance(result, Reply) else Reply(result)
    if isinstance(reply.body, ResponseModel):
        reply.body = reply.body.wire()
    elif isinstance(reply.body, BaseModel):
        reply.body = reply.body.model_dump(by_alias=True, mode="json")
    return reply


def route(
    bp: Blueprint,
    path: str,
    method: str,
    *,
    role: str | None,
    summary: str,
    tag: str,
    body: Any = None,
    response: Any = None,
    status: int = 200,
    query: dict[str, dict[str, Any]] | None = None,
    load_user: bool = True,
    headers: dict[str, dict[str, Any]] | None = None,
    response_headers: dict[str, dict[str, Any]] | None = None,
    conflicts: tuple[str, ...] = (),
) -> Callable[[Callable[[Call], Any]], Callable[[Call], Any]]:
    resources = path_resources(path)
    unknown = [f"{{{param}}} after /{collection}/" for param, collection in resources if collection not in RESOURCES]
    if unknown:
        # Every path parameter must resolve to its 404 before a 400 (api.md, check order).
        raise RuntimeError(f"{method} {path}: no resource loader for {', '.join(unknown)}; declare one with "
                           "routing.resource(collection, loader)")
    spec = RouteSpec(path, method, role, summary, tag, body, response, status, query or {}, resources=resources,
                     headers=headers or {}, response_headers=response_headers or {}, conflicts=conflicts)
    ROUTES.append(spec)

    def decorate(fn: Callable[[Call], Any]) -> Callable[[Call], Any]:
        spec.operation = fn.__name__
        spec.description = inspect.getdoc(fn) or ""

        def view(**params: str) -> Response:
            request = bp.current_request
            started = time.perf_counter()
            context = request.context or {}
            request_id = context.get("requestId") or str(uuidlib.uuid4())
            # A fresh logging context per request: nothing an earlier request or an invocation in
            # this warm environment appended (an activity id, a user) may stamp this one's records.
            logger.clear_state()
            logger.thread_safe_clear_keys()
            logger.thread_safe_append_keys(request_id=request_id, route=f"{method} {path}")
            call: Call | None = None
            try:
                call = _prepare(spec, request, params, load_user)
                _parse_body(spec, request, call)
                reply = _serialise(fn(call))
            except Exception as exc:
                err = exc if isinstance(exc, errors.ApiError) else errors.from_below(exc)
                if err is None:
                    logger.exception("unhandled error", extra={"status": 500})
                    return error_response(_internal())
                if call is not None and err.status in SHAPE_STATUSES:
                    err = _missing_resource(spec, call) or err
                level = logger.warning if err.status >= 500 else logger.info
                level("request refused", extra={"status": err.status, "error_type": err.type})
                return error_response(err)
            headers: dict[str, str | list[str]] = {"Content-Type": "application/json", **reply.headers}
            payload = json.dumps(reply.body) if reply.body is not None else ""
            sent = reply.status if reply.status != 200 else spec.status
            logger.info("request done", extra={"status": sent, "ms": round((time.perf_counter() - started) * 1000, 2)})
            return Response(body=payload, status_code=sent, headers=headers)

        view.__name__ = fn.__name__
        view.__doc__ = fn.__doc__
        bp.route(path, methods=[method], content_types=["*/*"], cors=_cors())(view)
        return fn

    return decorate


# Refusals about the request's own shape: answered only once every path resource exists.
SHAPE_STATUSES = (400, 413, 415)


def _missing_resource(spec: RouteSpec, call: Call) -> errors.ApiError | None:
    """The 404 of the first path resource that does not exist, if any (the site, and the user
    on routes that load it, were resolved already)."""
    for param, collection in spec.resources:
        if param == "site" or (param == "uuid" and call.user is not None):
            continue
        try:
            RESOURCES[collection](call, call.params[param])
        except errors.ApiError as err:
            if err.status == 404:
                return err
            return None  # e.g. 429 or 503 while looking: the 400 stands
        except Exception:
            logger.exception("resource check failed; answering the request's own refusal")
            return None
    return None


@lru_cache(maxsize=1)
def _cors() -> CORSConfig | bool:
    """CORS for the console's origin only (its own CloudFront domain in AWS).

    Locally the console is served by the same origin as the API and needs none.
    """
    origin = settings().console_origin
    if not origin or origin == "*":
        return False
    return CORSConfig(allow_origin=origin, allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
                      expose_headers=["Location", "Retry-After"], max_age=600)


class InternalError(errors.ApiError):
    status, type = 500, "InternalError"


def _internal() -> errors.ApiError:
    return InternalError("internal error; it has been logged with the request id")


def _prepare(spec: RouteSpec, request: Any, params: dict[str, str], load_user: bool) -> Call:
    """401, 403, 429, then the site's and (when the route reads it) the user's 404."""
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    principal = authenticate(headers.get("authorization")) if spec.role else None
    decoded = {k: (unquote(v) if settings().decode_path_params else v) for k, v in params.items()}
    site_id = decoded.get("site")
    if principal is not None and spec.role is not None:
        principal.require(site_id, spec.role)
        from chalicelib.api import limits

        limits.check(principal)  # 429 after 401/403; in memory, no DynamoDB request
    logger.thread_safe_append_keys(site=site_id, user=decoded.get("uuid"), by=principal.by if principal else None)
    query: dict[str, list[str]] = {}
    if request.query_params:
        query = {k: request.query_params.getlist(k) for k in request.query_params}
    call = Call(principal, decoded, None, query, headers)
    if site_id is not None:
        load_site(call, site_id)
    if "uuid" in decoded and site_id is not None and load_user:
        call.user = _user(site_id, decoded["uuid"])
    return call


def _parse_body(spec: RouteSpec, request: Any, call: Call) -> None:
    if spec.body is not None:
        raw = parse_json_body(request.raw_body)
        call.body = parse_model(resolve(spec.body), raw)


def load_site(call: Call, site_id: str) -> None:
    from chalicelib.store import sites

    call.site = sites.get_site(site_id)
    if call.site is None:
        raise errors.SiteNotFound(f"site '{site_id}' does not exist")


def _user(site_id: str, uuid: str) -> dict[str, Any]:
    try:
        validate_uuid(uuid)
    except ValueError:
        raise errors.UserNotFound("no user has this uuid") from None
    from chalicelib.store import users

    user = users.get_user(site_id, uuid)
    if user is None:
        raise errors.UserNotFound(f"user '{uuid}' does not exist")
    return user


def _user_exists(call: Call, uuid: str) -> None:
    assert call.site is not None
    _user(str(call.params["site"]), uuid)


def mechanic_loader(kind: str) -> Loader:
    """The loader of one mechanics kind (`/sites/{site}/{kind}/{id}`): cached, no extra read."""

    def exists(call: Call, mechanic_id: str) -> None:
        from chalicelib.domain import mechanics

        mechanics.get_mechanic(str(call.params["site"]), kind, mechanic_id)  # type: ignore[arg-type]

    return exists


resource("sites", load_site)
resource("users", _user_exists)


def page_args(call: Call) -> tuple[int, str | None]:
    """`limit` (1..100, default 25) and `cursor`, with the contract's 400s."""
    raw = call.arg("limit")
    limit = 25
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            raise errors.field_error("limit", "must be an integer from 1 to 100")
        limit = int(raw)
    cursor = call.arg("cursor")
    if cursor == "":
        cursor = None  # `?cursor=` with no value: no cursor, the first page
    if cursor is not None and len(cursor) > MAX_CURSOR_CHARS:
        raise errors.field_error("cursor", errors.CURSOR_REFUSED)
    return limit, cursor


# A cursor seals a last key (docs/read-side.md); longer than this it is not one of ours.
MAX_CURSOR_CHARS = 4096


def choice_arg(call: Call, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = call.arg(name, default) or default
    if value not in allowed:
        raise errors.field_error(name, f"must be one of {', '.join(allowed)}")
    return value


def paging_query() -> dict[str, dict[str, Any]]:
    return {
        "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25},
        "cursor": {"type": "string", "maxLength": MAX_CURSOR_CHARS,
                   "description": "The previous page's nextCursor: opaque, valid only for the route, site and "
                                  "filters that issued it (anything else is a 400 on cursor)"},
    }
