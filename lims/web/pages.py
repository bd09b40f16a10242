"""The pages: thin handlers around the same services as the API (read model from a
service, a template, nothing else)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from lims.api.deps import get_engine, get_settings, request_context
from lims.db.engine import unit_of_work
from lims.domain import permissions, workflow
from lims.domain.errors import DomainError, NotAuthenticated, NotPermitted
from lims.domain.sources import Source
from lims.domain.states import State
from lims.services import (
    audit,
    custody,
    dashboard,
    idempotency,
    identity,
    labelling,
    lineage,
    passwords,
    records,
    samples,
    scanning,
    users,
    views,
)
from lims.services.context import SYSTEM, Context
from lims.web import forms, svg
from lims.web.session import (
    COOKIE,
    PRE_COOKIE,
    PageRoute,
    check_csrf,
    new_pre_token,
    render,
    set_cookie,
    status_of,
    transaction,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Csrf = Annotated[str, Form()]
HOME = {"technician": "/bench?station=bench-1", "coordinator": "/dashboard",
        "qa": "/dashboard", "admin": "/admin"}


def _home(roles: frozenset[str]) -> str:
    for role in ("admin", "coordinator", "qa", "technician"):
        if role in roles:
            return HOME[role]
    return "/workflow"


# --- sign-in -----------------------------------------------------------------------------

@router.get("/")
def home(request: Request) -> Response:
    with transaction(request) as ctx:
        return RedirectResponse(_home(ctx.actor.roles), status_code=303)


def _signin_page(request: Request, status: int = 200, error: str | None = None,
                 nxt: str = "/") -> HTMLResponse:
    token = request.cookies.get(PRE_COOKIE) or new_pre_token()
    response = render(request, "signin.html", status, csrf=token, error=error, next=nxt)
    set_cookie(request, response, PRE_COOKIE, token, max_age=3600)
    return response


def _safe_next(nxt: str | None) -> str:
    return nxt if nxt and nxt.startswith("/") and not nxt.startswith("//") else "/"


@router.get("/signin")
def signin_form(request: Request, next: str | None = None) -> Response:  # noqa: A002
    return _signin_page(request, nxt=_safe_next(next))


@router.post("/signin")
def signin(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
           csrf: Csrf = "", next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002
    check_csrf(request, csrf, signing_in=True)
    # Own transaction: a failed attempt is recorded (and counts to the lockout) as in the API.
    with unit_of_work(get_engine(request)) as session:
        ctx = request_context(request, session, SYSTEM)
        user, result = users.sign_in(ctx, username, password)
    if user is None:
        error = ("Too many failed sign-ins: this account is locked for a while. Ask an "
                 "administrator if you need it sooner." if result == "locked"
                 else "User name or password is wrong. Check both and try again.")
        return _signin_page(request, 401, error, _safe_next(next))
    response = RedirectResponse(_safe_next(next), status_code=303)
    settings = get_settings(request)
    set_cookie(request, response, COOKIE, result or "", max_age=settings.token_hours * 3600)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/signout")
def signout(request: Request, csrf: Csrf = "") -> Response:
    check_csrf(request, csrf)
    token = request.cookies.get(COOKIE, "")
    with transaction(request) as ctx:
        users.sign_out(ctx, token)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --- the bench -----------------------------------------------------------------------------

def _boxes(ctx: Context) -> list[tuple[str, str]]:
    return [(b.id, b.path) for b in custody.boxes(ctx)]


def _grid(ctx: Context) -> Any:
    def grid(box_id: str) -> tuple[int | None, int | None]:
        box = custody.location(ctx, box_id)
        return box.rows, box.cols
    return grid


def _recent(ctx: Context, station: str) -> list[dict[str, Any]]:
    return [{"at": s.at.astimezone(ctx.settings.zone).strftime("%H:%M:%S"), "payload": s.payload,
             "code": code, "sample_id": s.sample_id}
            for s, code in scanning.recent(ctx, station)]


def _event_forms(ctx: Context, card: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per event the person may apply now, with its controls and a fresh
    idempotency key (a double tap sends the same key: applied once)."""
    out = []
    for event in card["allowed_events"]:
        t = workflow.transition(event)
        out.append({"event": event, "label": event.replace("_", " ").capitalize(),
                    "description": t.description, "needs_reason": t.needs_reason,
                    "needs_signature": t.needs_signature, "meanings": sorted(t.meanings),
                    "inputs": forms.inputs(event, card["source"], boxes=_boxes(ctx)),
                    "key": passwords.new_secret("act-")})
    return out


def _located(ctx: Context, card: dict[str, Any]) -> dict[str, Any]:
    if card.get("location_id"):
        box = custody.location(ctx, card["location_id"])
        card = {**card, "location": f"{box.path}, position "
                f"{forms.well(card['position'], box.cols)}"}
    return card


def _workspace(request: Request, ctx: Context, station: str, *, card: dict[str, Any] | None,
               payload: str = "", message: str | None = None, status: int = 200,
               error: DomainError | None = None) -> HTMLResponse:
    return render(request, "_workspace.html", status, station=station,
                  card=_located(ctx, card) if card else None,
                  events=_event_forms(ctx, card) if card else [], payload=payload,
                  message=message, error=error, recent=_recent(ctx, station))


@router.get("/bench")
def bench(request: Request, station: Annotated[str, Query(min_length=1, max_length=60)]
          = "bench-1") -> Response:
    with transaction(request) as ctx:
        permissions.require(ctx.actor.roles, "scan")
        return render(request, "bench.html", station=station, recent=_recent(ctx, station))


@router.post("/bench/scan")
def bench_scan(request: Request, payload: Annotated[str, Form(max_length=200)],
               station: Annotated[str, Form(max_length=60)], csrf: Csrf = "") -> Response:
    check_csrf(request, csrf)
    try:
        with transaction(request) as ctx:
            s = scanning.resolve(ctx, payload, station)
            return _workspace(request, ctx, station, card=views.card(ctx, s),
                              payload=payload)
    except DomainError as exc:  # the scan itself was kept (resolve records it)
        if isinstance(exc, NotAuthenticated | NotPermitted):
            raise
        with transaction(request) as ctx:
            return _workspace(request, ctx, station, card=None, payload=payload,
                              error=exc, status=status_of(exc))


@router.post("/bench/act")
async def bench_act(request: Request) -> Response:
    form = await request.form()
    return await _run_sync(_act, request, {k: str(v) for k, v in form.items()})


async def _run_sync(fn: Any, *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


def _signature(form: dict[str, str]) -> samples.SignatureInput | None:
    if not form.get("password"):
        return None
    return samples.SignatureInput(password=form["password"], meaning=form.get("meaning", ""))


def _act(request: Request, form: dict[str, str]) -> Response:
    """Scan-and-act from a card button: the same steps as POST /api/v1/scans/act."""
    check_csrf(request, form.get("csrf"))
    station, payload, event = form.get("station", ""), form.get("payload", ""), form["event"]
    with transaction(request) as ctx:
        data = forms.data_from_form(event, form, ctx.settings.zone, _grid(ctx))
        reason = form.get("reason") or None
        body = {"payload": payload, "station": station, "event": event, "reason": reason,
                "data": data}

        def act() -> dict[str, Any]:
            s = scanning.resolve(ctx, payload, station)
            s = samples.apply_event(ctx, s.id, event, reason=reason, data=data,
                                    signature=_signature(form))
            return {"sample_id": s.id}

        answer, replayed = idempotency.run(ctx, form.get("key"), body, act)
        s = records.sample(ctx, answer["sample_id"])
        done = (f"Already done: {event.replace('_', ' ')} was applied once (this tap was a "
                "repeat)." if replayed else f"Done: {event.replace('_', ' ')}.")
        response = _workspace(request, ctx, station, card=views.card(ctx, s),
                              payload=payload, message=done)
        response.headers["Idempotent-Replay"] = "true" if replayed else "false"
        return response


@router.get("/bench/box")
def box_mode(request: Request, station: Annotated[str, Query(min_length=1, max_length=60)]
             = "bench-1") -> Response:
    with transaction(request) as ctx:
        permissions.require(ctx.actor.roles, "scan")
        events = [{"event": t.event, "label": t.event.replace("_", " ").capitalize(),
                   "needs_reason": t.needs_reason, "needs_signature": t.needs_signature,
                   "meanings": sorted(t.meanings),
                   "inputs": forms.inputs(t.event, None, boxes=_boxes(ctx), box_mode=True)}
                  for t in workflow.TRANSITIONS
                  if not t.internal and t.roles & ctx.actor.roles]
        return render(request, "box.html", station=station, events=events,
                      key=passwords.new_secret("box-"))


@router.post("/bench/box/check")
def box_check(request: Request, payload: Annotated[str, Form(max_length=200)],
              station: Annotated[str, Form(max_length=60)], csrf: Csrf = "") -> Response:
    """One tube of a box, looked up (and recorded as seen) before the event is chosen."""
    check_csrf(request, csrf)
    try:
        with transaction(request) as ctx:
            card = views.card(ctx, scanning.resolve(ctx, payload, station))
            return render(request, "_box_row.html", payload=payload, card=card, error=None)
    except DomainError as exc:
        if isinstance(exc, NotAuthenticated | NotPermitted):
            raise
        return render(request, "_box_row.html", payload=payload, card=None, error=exc)


@router.post("/bench/box/apply")
async def box_apply(request: Request) -> Response:
    form = await request.form()
    payloads = [str(p) for p in form.getlist("payloads")]
    return await _run_sync(_box_apply, request, {k: str(v) for k, v in form.items()}, payloads)


def _box_apply(request: Request, form: dict[str, str], payloads: list[str]) -> Response:
    check_csrf(request, form.get("csrf"))
    event, station = form.get("event", ""), form.get("station", "")
    mode = "all_or_nothing" if form.get("mode") == "all_or_nothing" else "best_effort"
    try:
        with transaction(request) as ctx:
            data = forms.data_from_form(event, form, ctx.settings.zone, _grid(ctx))
            reason = form.get("reason") or None
            body = {"payloads": payloads, "station": station, "event": event, "mode": mode,
                    "reason": reason, "data": data}

            def act() -> list[dict[str, Any]]:
                return scanning.batch(ctx, payloads, station, event, mode=mode,
                                      reason=reason, data=data, expected_donor_id=None,
                                      signature=_signature(form))

            results, replayed = idempotency.run(ctx, form.get("key"), body, act)
            return render(request, "_box_results.html", results=results, refused=None,
                          event=event, replayed=replayed)
    except DomainError as exc:
        if "results" in exc.extra:
            return render(request, "_box_results.html", 409, results=exc.extra["results"],
                          refused=exc.detail, event=event, replayed=False)
        raise


# --- the bedside check -----------------------------------------------------------------------

@router.get("/bedside")
def bedside_form(request: Request) -> Response:
    with transaction(request) as ctx:
        permissions.require(ctx.actor.roles, "bedside_check")
        return render(request, "bedside.html", check=None)


@router.post("/bedside")
def bedside(request: Request, wristband: Annotated[str, Form(max_length=200)],
            product: Annotated[str, Form(max_length=200)],
            site: Annotated[str, Form(max_length=120)] = "", csrf: Csrf = "") -> Response:
    check_csrf(request, csrf)
    with transaction(request) as ctx:
        check = identity.verify_bedside(ctx, wristband=wristband, product=product,
                                        site=site or None)
        return render(request, "bedside.html", check=check, wristband=wristband,
                      product=product, site=site)


# --- the dashboard ---------------------------------------------------------------------------

def _dashboard_context(ctx: Context, source: str | None, days: int) -> dict[str, Any]:
    data = dashboard.summary(ctx, source=source, days=days)
    zone = ctx.settings.zone
    return {"d": data, "chart": svg.throughput(data["throughput"]["days"],
                                               data["throughput"]["events"]),
            "sources": [s.value for s in Source], "source": source, "days": days,
            "query": urlencode({k: v for k, v in (("source", source), ("days", days)) if v}),
            "local": lambda t: t.astimezone(zone).strftime("%d %b %H:%M") if t else ""}


def _dashboard_filters(source: str | None, days: int) -> tuple[str | None, int]:
    dashboard.check_filters(source or None, days)
    return source or None, days


@router.get("/dashboard")
def dashboard_page(request: Request, source: str | None = None, days: int = 14) -> Response:
    with transaction(request) as ctx:
        src, days = _dashboard_filters(source, days)
        return render(request, "dashboard.html", **_dashboard_context(ctx, src, days))


@router.get("/dashboard/fragment")
def dashboard_fragment(request: Request, source: str | None = None, days: int = 14) -> Response:
    with transaction(request) as ctx:
        src, days = _dashboard_filters(source, days)
        return render(request, "_dashboard.html", **_dashboard_context(ctx, src, days))


# --- a sample ----------------------------------------------------------------------------------

@router.get("/samples/{sample_id}")
def sample_page(request: Request, sample_id: str) -> Response:
    with transaction(request) as ctx:
        fam = records.family(ctx, sample_id)
        s, donor, collection = fam.sample, fam.donor, fam.collection
        card = _located(ctx, views.card(ctx, s))
        tree = _plain(lineage.tree(fam.members))
        picture = svg.lineage({"code": donor.code, "donor_type": donor.donor_type},
                              {"din": collection.din, "source": collection.source}, tree, s.id)
        zone = ctx.settings.zone
        history = [{"at": t.at.astimezone(zone), "event": t.event, "from": t.from_state,
                    "to": t.to_state, "by": t.actor_name, "reason": t.reason,
                    "deviation": t.deviation, "signature": sig}
                   for t, sig in records.history(ctx, s.id)]
        timeline = [{"at": e["at"].astimezone(zone), "text": e["text"]}
                    for e in audit.sample_history(ctx, s.id)]
        return render(request, "sample.html", card=card, lineage_svg=picture,
                      transfers=custody.timeline(ctx, s.id),
                      excursions=records.excursions(ctx, s.id),
                      history=history, timeline=timeline,
                      steps=records.steps(ctx, s.id),
                      qc=[q for q, _ in records.qc_results(ctx, s.id)], zone=zone,
                      may_print=permissions.allowed(ctx.actor.roles, "print_label"))


def _plain(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"sample": {"id": n["sample"].id, "code": n["sample"].code,
                        "kind": n["sample"].kind, "state": n["sample"].state},
             "children": _plain(n["children"])} for n in nodes]


@router.get("/samples/{sample_id}/label.png")
def label_preview(request: Request, sample_id: str) -> Response:
    """A look at the label: records nothing (preview=True in the service)."""
    with transaction(request) as ctx:
        png = labelling.preview_label(ctx, sample_id, template_name="cryovial", fmt="png",
                                      symbology="qr")
    return Response(png, media_type="image/png")


@router.post("/samples/{sample_id}/print")
def print_label(request: Request, sample_id: str, reason: Annotated[str, Form()] = "",
                csrf: Csrf = "") -> Response:
    """An actual print: recorded; a second print needs a reason (the service says so)."""
    check_csrf(request, csrf)
    with transaction(request) as ctx:
        pdf = labelling.print_labels(ctx, [sample_id], template_name="cryovial", fmt="pdf",
                                     symbology="qr", reason=reason or None)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="label-{sample_id}.pdf"'})


# --- the workflow, administration ----------------------------------------------------------------

@router.get("/workflow")
def workflow_page(request: Request) -> Response:
    with transaction(request):
        return render(request, "workflow.html", diagram=svg.workflow(),
                      table=workflow.describe()["transitions"],
                      guards=workflow.GUARDS, states=[s.value for s in State])


@router.get("/admin")
def admin_page(request: Request) -> Response:
    with transaction(request) as ctx:
        return render(request, "admin.html", people=users.everyone(ctx),
                      stations=scanning.stations(ctx), zone=ctx.settings.zone)
