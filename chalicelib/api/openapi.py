"""The OpenAPI 3 document, generated from the route registry and the pydantic models."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import ConfigDict, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue

from chalicelib.api.routing import MAX_JSON_DEPTH, ROUTES, RouteSpec, resolve
from chalicelib.models.base import UUID_PATTERN, ErrorBody

_ERRORS_BY_STATUS = {
    400: "Malformed request (ValidationError)",
    401: "No or invalid token (Unauthorized)",
    403: "The token does not grant this site or action (Forbidden)",
    404: "Unknown site, user or resource",
    409: "Conflict",
    413: "Body too large (PayloadTooLarge)",
    429: "Too many requests (RateLimited)",
    503: "Starting up, or storage throttled before anything was written (ServiceUnavailable)",
}
_RETRY_AFTER = {"required": True, "description": "Seconds to wait before sending the request again",
                "schema": {"type": "integer", "minimum": 1}}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    # Every body and response (models and unions alike) in one pass, so that a schema used both
    # ways is generated per mode and named apart (`X-Input`, `X-Output`; `_apart` renames them).
    kinds: dict[tuple[int, JsonSchemaMode], Any] = {(id(ErrorBody), "serialization"): ErrorBody}
    for spec in ROUTES:
        pairs: tuple[tuple[Any, JsonSchemaMode], ...] = ((resolve(spec.body), "validation"),
                                                          (resolve(spec.response), "serialization"))
        for kind, mode in pairs:
            if kind is not None:
                kinds[(id(kind), mode)] = kind
    refs, schema = TypeAdapter.json_schemas(
        [(key, key[1], TypeAdapter(kind)) for key, kind in kinds.items()],
        by_alias=True, ref_template="#/components/schemas/{model}", schema_generator=_OpenResponses)
    components = schema.get("$defs", {})

    def ref(named: Any, mode: JsonSchemaMode) -> dict[str, Any]:
        """The schema of a body or response; a union named by its alias (`module:Behaviour`)
        becomes a component of that name (`RecordedBehaviour` as a response), not an inline oneOf."""
        schema = dict(refs[((id(resolve(named)), mode), mode)])
        label = named.rpartition(":")[2] if isinstance(named, str) else ""
        if "$ref" in schema or not label:
            return schema
        name = label if mode == "validation" else _recorded(label)
        components[name] = {"title": name, **schema}
        return {"$ref": _SCHEMAS + name}

    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        op: dict[str, Any] = {
            "operationId": _operation_id(spec),
            "summary": spec.summary,
            **({"description": spec.description} if spec.description else {}),
            "tags": [spec.tag],
            "parameters": [
                {"name": name, "in": "path", "required": True,
                 "schema": _path_schema(name)}
                for name in re.findall(r"{(\w+)}", spec.path)
            ] + [
                {"name": name, "in": "query", "required": False, "schema": schema_}
                for name, schema_ in spec.query.items()
            ] + [
                {"name": name, "in": "header", "required": False, **header}
                for name, header in spec.headers.items()
            ],
            "responses": {},
        }
        # Public routes say so (an empty list): every operation declares its security.
        op["security"] = [{"bearer": []}] if spec.role is not None else []
        if spec.body is not None:
            op["requestBody"] = {"required": True, "description": (
                f"JSON; objects and arrays nest at most {MAX_JSON_DEPTH} levels (the body is level 1)"),
                "content": {"application/json": {
                "schema": ref(spec.body, "validation")}}}
        if spec.response is not None:
            op["responses"][str(spec.status)] = {"description": "OK", "content": {"application/json": {
                "schema": ref(spec.response, "serialization")}}}
            if spec.response_headers:
                op["responses"][str(spec.status)]["headers"] = {
                    name: {"required": True, **header} for name, header in spec.response_headers.items()}
        elif spec.status == 204 or spec.method == "DELETE":
            op["responses"]["204"] = {"description": "Done"}
        else:
            op["responses"][str(spec.status)] = {"description": "OK"}
        statuses = []
        if spec.body is not None or spec.query or "{" in spec.path:
            statuses.append(400)  # something of the request to validate
        if spec.role is not None:
            statuses += [401, 403, 429]
        if "{" in spec.path:
            statuses.append(404)
        if spec.conflicts:
            statuses.append(409)
        if spec.body is not None:
            statuses.append(413)
        statuses.append(503)  # storage busy (any route that reads or writes), or /health while starting
        for status in sorted(statuses):
            op["responses"][str(status)] = {
                "description": _ERRORS_BY_STATUS[status] + (f" ({', '.join(spec.conflicts)})" if status == 409 else ""),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            }
            if status in (429, 503):
                op["responses"][str(status)]["headers"] = {"Retry-After": _RETRY_AFTER}
        paths.setdefault(spec.path, {})[spec.method.lower()] = op
    _add_links(paths)
    return _apart({
        "openapi": "3.1.0",
        "info": {"title": "Gamification engine API", "version": "1.0.0",
                 "description": (
                     "Activities in, points, rewards, coupons, KPIs and leaderboards out. Every error "
                     "answers `{error: {type, message, details}}` (ErrorBody). A method a path does not "
                     "have answers 405 MethodNotAllowed with Allow on the local stack, and 404 NotFound "
                     "behind API Gateway (which cannot tell a wrong method from a wrong path).")},
        # Relative to where the document is served, which is the deployment it describes (on API
        # Gateway, `/api/openapi.json` gives `/api/`; locally `/openapi.json` gives `/`).
        "servers": [{"url": ".", "description": "The deployment serving this document"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })


class _OpenResponses(GenerateJsonSchema):
    """Responses may add fields (api.md): a closed request model (`extra="forbid"`) used as a
    response is open there. Its two modes then differ, so pydantic names them apart (`_apart`)."""

    def _update_class_schema(self, json_schema: JsonSchemaValue, cls: type[Any], config: ConfigDict) -> None:
        if self.mode == "serialization" and config.get("extra") == "forbid":
            config = ConfigDict(**{**config, "extra": "ignore"})
        super()._update_class_schema(json_schema, cls, config)


def _apart(doc: dict[str, Any]) -> dict[str, Any]:
    """A model that is both a request and a response (a mechanic, a user's settings) gets two
    schemas, which pydantic names `X-Input` and `X-Output`: the request keeps `X` (strict,
    closed, defaults optional), the response becomes `RecordedX`, open to added fields with every
    field required (all are sent). Each title is its name: generators name classes by title."""
    schemas = doc["components"]["schemas"]
    names = {}
    for key in schemas:
        if key.endswith("-Input"):
            names[key] = key.removesuffix("-Input")
        elif key.endswith("-Output"):
            names[key] = _recorded(key.removesuffix("-Output"))
    for old, new in names.items():
        schema = schemas.pop(old)
        schema["title"] = new
        schemas[new] = schema

    def renamed(node: Any) -> Any:  # every reference: `$ref`s and discriminator mappings
        if isinstance(node, dict):
            return {k: renamed(v) for k, v in node.items()}
        if isinstance(node, list):
            return [renamed(v) for v in node]
        if isinstance(node, str) and node.startswith(_SCHEMAS):
            name = node.removeprefix(_SCHEMAS)
            return _SCHEMAS + names.get(name, name)
        return node

    return dict(renamed(doc))


_SCHEMAS = "#/components/schemas/"


def _recorded(name: str) -> str:
    """The response form's name of a schema that is also a request (`PointType` -> `RecordedPointType`)."""
    return f"Recorded{name}"


def _path_schema(name: str) -> dict[str, Any]:
    if name == "site":
        return {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,62}$"}
    if name == "uuid":
        return {"type": "string", "minLength": 1, "maxLength": 128, "pattern": UUID_PATTERN}
    return {"type": "string", "minLength": 1, "maxLength": 128}


def _operation_id(spec: RouteSpec) -> str:
    """`submit_activity` -> `submitActivity`: what the operation does, not where it lives."""
    first, *rest = spec.operation.strip("_").split("_")
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


# The response field that names what a POST created, by the path parameter that addresses it.
_CREATED_FIELD = {"site": "id", "uuid": "uuid", "id": "id", "keyId": "id"}


def _add_links(paths: dict[str, dict[str, Any]]) -> None:
    """OpenAPI links, so that clients and stateful fuzzers can chain calls.

    A POST that creates something (201/202) links to every operation under `{its path}/{param}`,
    the new resource's field filling that parameter and the other path parameters carried over
    from the request. Creating a user also links to submitting an activity for that user.
    """
    for path, methods in paths.items():
        created = methods.get("post")
        status = next((s for s in ("201", "202") if created and s in created["responses"]), None)
        if created is None or status is None:
            continue
        links: dict[str, Any] = {}
        for target_path, target_methods in paths.items():
            match = re.fullmatch(re.escape(path) + r"/\{(\w+)\}(/.*)?", target_path)
            if not match or match.group(1) not in _CREATED_FIELD:
                continue
            param = match.group(1)
            if set(re.findall(r"{(\w+)}", target_path)) - set(re.findall(r"{(\w+)}", path)) != {param}:
                continue  # a parameter neither the request nor the response can fill
            for target in target_methods.values():
                parameters = {name: f"$request.path.{name}" for name in re.findall(r"{(\w+)}", path)}
                parameters[param] = f"$response.body#/{_CREATED_FIELD[param]}"
                links[target["operationId"]] = {"operationId": target["operationId"], "parameters": parameters}
        if path == "/sites/{site}/users" and "post" in paths.get("/sites/{site}/activities", {}):
            links["submitActivityForTheUser"] = {
                "operationId": paths["/sites/{site}/activities"]["post"]["operationId"],
                "parameters": {"site": "$request.path.site"},
                "requestBody": {"uuid": "$response.body#/uuid", "reason": "linked",
                                "attrs": {"type": "point", "action": "increment",
                                          "points": [{"pointId": "coins", "points": 1}]}},
            }
        if links:
            created["responses"][status]["links"] = links
