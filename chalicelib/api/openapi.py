"""The OpenAPI 3 document, generated from the route registry and the pydantic models."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chalicelib.api.routing import MAX_JSON_DEPTH, ROUTES, resolve
from chalicelib.models.base import ErrorBody

_ERRORS_BY_STATUS = {
    400: "Malformed request (ValidationError)",
    401: "No or invalid token (Unauthorized)",
    403: "The token does not grant this site or action (Forbidden)",
    404: "Unknown site, user or resource",
    409: "Conflict",
    413: "Body too large (PayloadTooLarge)",
    429: "Too many requests (RateLimited)",
}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = {(ErrorBody, "serialization")}
    unions: dict[tuple[int, str], dict[str, Any]] = {}
    for spec in ROUTES:
        modes: tuple[tuple[Any, JsonSchemaMode], ...] = ((resolve(spec.body), "validation"),
                                                          (resolve(spec.response), "serialization"))
        for kind, mode in modes:
            if kind is None:
                continue
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                wanted.add((kind, mode))
            else:
                unions[(id(kind), mode)] = {}
    keys: list[tuple[type[BaseModel], Any]] = sorted(wanted, key=lambda k: (k[0].__name__, k[1]))
    refs, schema = models_json_schema(keys, by_alias=True, ref_template="#/components/schemas/{model}")
    components = schema.get("$defs", {})
    for spec in ROUTES:
        pairs: tuple[tuple[Any, JsonSchemaMode], ...] = ((resolve(spec.body), "validation"),
                                                          (resolve(spec.response), "serialization"))
        for kind, mode in pairs:
            if kind is not None and (id(kind), mode) in unions and not unions[(id(kind), mode)]:
                union_schema = TypeAdapter(kind).json_schema(
                    by_alias=True, mode=mode, ref_template="#/components/schemas/{model}")
                components.update(union_schema.pop("$defs", {}))
                unions[(id(kind), mode)] = union_schema

    def ref(model: Any, mode: str) -> dict[str, Any]:
        if (id(model), mode) in unions:
            return unions[(id(model), mode)]
        return refs[(model, mode)]  # type: ignore[index]

    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        op: dict[str, Any] = {
            "operationId": _operation_id(spec.method, spec.path),
            "summary": spec.summary,
            "tags": [spec.tag],
            "parameters": [
                {"name": name, "in": "path", "required": True,
                 "schema": _path_schema(name)}
                for name in re.findall(r"{(\w+)}", spec.path)
            ] + [
                {"name": name, "in": "query", "required": False, "schema": schema_}
                for name, schema_ in spec.query.items()
            ],
            "responses": {},
        }
        if spec.role is not None:
            op["security"] = [{"bearer": []}]
        if spec.body is not None:
            op["requestBody"] = {"required": True, "description": (
                f"JSON; objects and arrays nest at most {MAX_JSON_DEPTH} levels (the body is level 1)"),
                "content": {"application/json": {
                "schema": ref(resolve(spec.body), "validation")}}}
        if spec.response is not None:
            op["responses"][str(spec.status)] = {"description": "OK", "content": {"application/json": {
                "schema": ref(resolve(spec.response), "serialization")}}}
        elif spec.status == 204 or spec.method == "DELETE":
            op["responses"]["204"] = {"description": "Done"}
        else:
            op["responses"][str(spec.status)] = {"description": "OK"}
        statuses = [400]
        if spec.role is not None:
            statuses += [401, 403, 429]
        if "{" in spec.path:
            statuses.append(404)
        if spec.method in ("POST", "PUT", "DELETE", "PATCH"):
            statuses.append(409)
        if spec.body is not None:
            statuses.append(413)
        for status in sorted(statuses):
            op["responses"][str(status)] = {
                "description": _ERRORS_BY_STATUS[status],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            }
            if status == 429:
                op["responses"]["429"]["headers"] = {"Retry-After": {
                    "required": True, "description": "Seconds until the token may call again",
                    "schema": {"type": "integer", "minimum": 1}}}
        paths.setdefault(spec.path, {})[spec.method.lower()] = op
    _add_links(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Gamification engine API", "version": "1.0.0",
                 "description": "Activities in, points, rewards, coupons, KPIs and leaderboards out."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _path_schema(name: str) -> dict[str, Any]:
    if name == "site":
        return {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,62}$"}
    if name == "uuid":
        return {"type": "string", "minLength": 1, "maxLength": 128}
    return {"type": "string", "minLength": 1, "maxLength": 128}


def _operation_id(method: str, path: str) -> str:
    words = [p.strip("{}") for p in path.split("/") if p]
    return method.lower() + "".join(w[:1].upper() + w[1:].replace("-", "") for w in words)


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
