"""One contract for every route, applied in one place instead of a copy per route.

Every router is built with `route_class=ContractRoute`; its endpoint is wrapped so that:
- a query parameter the route does not declare, or a single-valued one given twice, is a
  422 problem naming it (nothing silently ignored, nothing silently dropped);
- every POST honours `Idempotency-Key`: the answer is stored in the same transaction as
  the write, a replay returns the original status and body (header Idempotent-Replay),
  the same key with a different request is a 422;
- every write on a record the path names (sample, donor, user) honours `If-Match`
  (412 when stale) and answers with that record's new ETag;
- every single resource answered carries an ETag: its version where it has one, else a
  weak ETag of the representation.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin

from fastapi import Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter
from starlette.datastructures import Headers

from lims.api.problems import responses
from lims.domain import audit as hashing
from lims.domain.errors import Invalid
from lims.services import idempotency, versions
from lims.services.context import Context

IDEMPOTENCY = "Idempotency-Key"
IF_MATCH = "If-Match"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Routes that are not a write on the service's records, each with the reason.
NOT_IDEMPOTENT = {
    "/auth/token": "signing in issues a new token each time; it stores no record to replay",
}

# Headers typed `str` (not nullable): a header is sent or not, never "null".
_IdemHeader = Annotated[str, Header(
    alias=IDEMPOTENCY, min_length=1, max_length=200,
    description="Any unique string (e.g. a UUID). A retry with the same key and the same "
                "request applies once and returns the original answer "
                "(header Idempotent-Replay: true); the same key with another request is 422.")]
_IfMatchHeader = Annotated[str, Header(
    alias=IF_MATCH, pattern=r'^(\*|(W/)?"[0-9]{1,9}"|[0-9]{1,9})$',
    description='The ETag you last received for the record this path names, e.g. "3": '
                "the change is refused with 412 if the record changed since.")]


def parse_if_match(raw: str | None) -> int | None:
    """The version the caller last saw, from an ETag like W/"3" or "3" (None: any)."""
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit()):
        raise Invalid('If-Match must be the ETag you received, e.g. "3".',
                      errors=[{"field": "header.If-Match", "message": "not an ETag"}])
    return int(value)


def etag_of(body: Any) -> str | None:
    """The version where the record has one, else a weak ETag of what was sent."""
    if not isinstance(body, dict) or "id" not in body:
        return None
    if isinstance(body.get("version"), int):
        return f'"{body["version"]}"'
    return f'W/"{hashlib.sha256(hashing.canonical(body)).hexdigest()[:20]}"'


def _declares_header(sig: inspect.Signature, alias: str) -> bool:
    for p in sig.parameters.values():
        for meta in getattr(p.annotation, "__metadata__", ()):
            if getattr(meta, "alias", None) == alias:
                return True
    return False


def _is_multi(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_multi(get_args(annotation)[0])
    if origin in (list, tuple, set, frozenset):
        return True
    return any(_is_multi(a) for a in get_args(annotation)) if origin else False


def _query_params(dependant: Any) -> dict[str, bool]:
    """Every query parameter a route declares (its dependencies' too): name -> multi."""
    found = {f.alias: _is_multi(f.field_info.annotation) for f in dependant.query_params}
    for sub in dependant.dependencies:
        found.update(_query_params(sub))
    return found


def _check_query(request: Request, declared: dict[str, bool]) -> None:
    nul = sorted({k for k, v in request.query_params.multi_items() if "\x00" in v + k})
    if nul:
        raise Invalid(f"{', '.join(nul)}: a NUL character is never part of a value.",
                      errors=[{"field": f"query.{k}", "message": "NUL character"} for k in nul])
    unknown = sorted({k for k in request.query_params if k not in declared})
    repeated = sorted({k for k in request.query_params
                       if k in declared and not declared[k]
                       and len(request.query_params.getlist(k)) > 1})
    if not unknown and not repeated:
        return
    errors = [{"field": f"query.{k}", "message": "unknown parameter"} for k in unknown]
    errors += [{"field": f"query.{k}", "message": "takes one value"} for k in repeated]
    parts = []
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        parts.append(f"unknown parameter(s) {', '.join(unknown)} (this list takes: {allowed})")
    if repeated:
        parts.append(f"{', '.join(repeated)} can be given only once")
    raise Invalid("Please correct the query: " + "; ".join(parts) + ".", errors=errors)


def _fingerprint(method: str, path: str, values: dict[str, Any]) -> dict[str, Any]:
    """What makes two requests "the same": route, path ids and bodies (never passwords)."""
    def clean(v: Any) -> Any:
        if isinstance(v, BaseModel):
            v = v.model_dump(mode="json")
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if k != "password"}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v
    return {"route": f"{method} {path}",
            "values": {k: clean(v) for k, v in values.items()
                       if not isinstance(v, Context | Request | Response)}}


def _stored(result: Any, status: int, adapter: TypeAdapter[Any] | None) -> dict[str, Any]:
    """The answer as it is sent and as every replay of it will be sent."""
    if isinstance(result, Response):
        return {"status": result.status_code, "media_type": result.media_type,
                "bytes": base64.b64encode(bytes(result.body)).decode()}
    if adapter is not None:
        body = adapter.dump_python(adapter.validate_python(result, from_attributes=True),
                                   mode="json")
    else:
        body = jsonable_encoder(result)
    return {"status": status, "body": body}


def _respond(answer: dict[str, Any], headers: dict[str, str],
             json_class: type[JSONResponse] = JSONResponse) -> Response:
    if "bytes" in answer:
        return Response(base64.b64decode(answer["bytes"]), status_code=answer["status"],
                        media_type=answer["media_type"], headers=headers)
    return json_class(answer["body"], status_code=answer["status"], headers=headers)


def _contracted(route: ContractRoute, endpoint: Callable[..., Any], methods: set[str],
                status_code: int | None) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: the contract wraps sync endpoints only")
    sig = inspect.signature(endpoint)
    hints = typing.get_type_hints(endpoint, include_extras=True)
    params = [p.replace(annotation=hints.get(p.name, p.annotation))
              for p in sig.parameters.values()]
    names = {p.name for p in params}
    # FastAPI fills one Request and one Response parameter per route: reuse the endpoint's.
    request_name = next((p.name for p in params if p.annotation is Request), None)
    response_name = next((p.name for p in params if p.annotation is Response), None)
    extra = []
    if request_name is None:
        request_name = "contract_request"
        extra.append(inspect.Parameter(request_name, inspect.Parameter.KEYWORD_ONLY,
                                       annotation=Request))
    if response_name is None:
        response_name = "contract_response"
        extra.append(inspect.Parameter(response_name, inspect.Parameter.KEYWORD_ONLY,
                                       annotation=Response))
    posts = "POST" in methods and route.path not in NOT_IDEMPOTENT
    if posts and not _declares_header(sig, IDEMPOTENCY):
        extra.append(inspect.Parameter("contract_idempotency_key",
                                       inspect.Parameter.KEYWORD_ONLY, default=None,
                                       annotation=_IdemHeader))
    versioned = versions.param_of(route.path) if methods & WRITES else None
    if versioned:
        extra.append(inspect.Parameter("contract_if_match", inspect.Parameter.KEYWORD_ONLY,
                                       default=None, annotation=_IfMatchHeader))
    extra = [p for p in extra if p.name not in names]
    ordered = [p for p in params if p.default is inspect.Parameter.empty] + \
              [p for p in params if p.default is not inspect.Parameter.empty]
    ordered = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in ordered]

    def contract(**kw: Any) -> Any:
        request: Request = kw[request_name]
        sub_response: Response = kw[response_name]
        kw.pop("contract_request", None)
        kw.pop("contract_response", None)
        kw.pop("contract_idempotency_key", None)
        kw.pop("contract_if_match", None)
        _check_query(request, route.declared_query)
        ctx = next((v for v in kw.values() if isinstance(v, Context)), None)
        key = request.headers.get(IDEMPOTENCY) if posts else None
        claim = None
        if key is not None and ctx is not None:
            claim = idempotency.claim(ctx, key, _fingerprint(
                request.method, route.path, {**request.path_params, **kw}))
            if claim.answer is not None:
                return _respond(claim.answer, {**claim.answer.get("headers", {}),
                                               "Idempotent-Replay": "true"}, route.json_class)
        if versioned and ctx is not None:
            record_id = request.path_params[versioned]
            expected = parse_if_match(request.headers.get(IF_MATCH))
            versions.check(ctx, versioned, record_id, expected)
        result = endpoint(**kw)
        if isinstance(result, Response) and claim is None:
            return result  # a file, a stream or a problem: sent as the route made it
        answer = _stored(result, status_code or 200, route.body_adapter)
        headers = {k: v for k, v in Headers(raw=sub_response.headers.raw).items()
                   if k.lower() not in ("content-length", "content-type")}
        etag = None
        if versioned and ctx is not None:
            etag = versions.etag(ctx, versioned, request.path_params[versioned])
        etag = etag or etag_of(answer.get("body"))
        if etag and "etag" not in {k.lower() for k in headers}:
            headers["ETag"] = etag
        if claim is not None and ctx is not None:
            idempotency.store(ctx, claim, {**answer, "headers": headers})
            headers["Idempotent-Replay"] = "false"
        return _respond(answer, headers, route.json_class)

    contract.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        ordered + extra, return_annotation=hints.get("return", sig.return_annotation))
    contract.__name__ = endpoint.__name__
    contract.__doc__ = endpoint.__doc__
    contract.__contract__ = True  # type: ignore[attr-defined]
    return contract


class ContractRoute(APIRoute):
    """An APIRoute whose endpoint keeps the service's contract (see the module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kw: Any) -> None:
        self.declared_query: dict[str, bool] = {}
        self.body_adapter: TypeAdapter[Any] | None = None
        self.path = path
        chosen = getattr(kw.get("response_class"), "value", kw.get("response_class"))
        self.json_class: type[JSONResponse] = (
            chosen if isinstance(chosen, type) and issubclass(chosen, JSONResponse)
            else JSONResponse)
        if not getattr(endpoint, "__contract__", False):
            methods = {m.upper() for m in (kw.get("methods") or ["GET"])}
            endpoint = _contracted(self, endpoint, methods, kw.get("status_code"))
            # What the contract itself can answer: a refused query or key, a stale If-Match.
            codes = [400, 422] if methods & WRITES else [422]
            if methods & WRITES and versions.param_of(path):
                codes.append(412)
            kw["responses"] = {**responses(*codes), **(kw.get("responses") or {})}
        super().__init__(path, endpoint, **kw)
        self.declared_query = _query_params(self.dependant)
        if self.response_model is not None:
            self.body_adapter = TypeAdapter(self.response_model)
