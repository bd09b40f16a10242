"""Webhooks: subscribe a URL to event types; deliveries are signed and retried by
`lims worker`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Response, status
from pydantic import BaseModel, Field

from lims.api.contract import ContractRoute, parse_if_match
from lims.api.deps import Auth
from lims.api.problems import responses
from lims.api.schemas import In, Page
from lims.db.tables import WebhookSubscription
from lims.services import webhooks

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=ContractRoute)


def _if_match(if_match: Annotated[str | None, Header(
        alias="If-Match", description='The ETag you last received, e.g. "3"')] = None,
              ) -> int | None:
    return parse_if_match(if_match)


IfMatch = Annotated[int | None, Depends(_if_match)]


class WebhookIn(In):
    url: str = Field(min_length=8, max_length=2000,
                     examples=["https://lims.hospital.example/hooks/lims"],
                     description="http(s) address that receives a POST per event")
    event_types: list[str] = Field(
        default_factory=lambda: ["*"], max_length=50, examples=[["sample.*", "donor.*"]],
        description="Event types (`sample.release`), families (`sample.*`) or `*`")
    description: str | None = Field(default=None, max_length=200,
                                    examples=["Hospital LIMS, production"])

    model_config = {"json_schema_extra": {"examples": [{
        "url": "https://lims.hospital.example/hooks/lims",
        "event_types": ["sample.*"], "description": "Hospital LIMS, production"}]}}


class DisableIn(In):
    reason: str = Field(min_length=1, max_length=500, examples=["Receiver being moved"])


class EnableIn(In):
    note: str | None = Field(default=None, max_length=500,
                             examples=["Receiver back after maintenance"])


class WebhookOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    disabled_reason: str | None
    consecutive_failures: int
    cursor: str = Field(description="Feed position up to which events were queued for "
                        "delivery")
    owner_id: str
    created_at: datetime
    updated_at: datetime
    version: int


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signing secret: shown only in this response. Keep it "
                        "with the receiver to check X-Lims-Signature.")


def _out(response: Response, sub: WebhookSubscription) -> WebhookOut:
    response.headers["ETag"] = f'"{sub.version}"'
    return WebhookOut(**webhooks.view(sub))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated,
             operation_id="create_webhook", summary="Subscribe a URL to events",
             responses=responses(401, 403, 422))
def create_webhook(body: WebhookIn, ctx: Auth, response: Response) -> WebhookCreated:
    """Events that commit from now on are POSTed to the URL, signed with the secret in
    this response (it is not shown again). See the README for checking the signature."""
    sub, secret = webhooks.subscribe(ctx, url=body.url, event_types=body.event_types,
                                     description=body.description)
    response.headers["ETag"] = f'"{sub.version}"'
    response.headers["Location"] = f"/api/v1/webhooks/{sub.id}"
    return WebhookCreated(**webhooks.view(sub), secret=secret)


@router.get("", response_model=list[WebhookOut], operation_id="list_webhooks",
            summary="List webhooks", responses=responses(401, 403))
def list_webhooks(ctx: Auth) -> list[WebhookOut]:
    """Your own subscriptions (an admin sees everyone's)."""
    return [WebhookOut(**webhooks.view(s)) for s in webhooks.list_all(ctx)]


@router.get("/{webhook_id}", response_model=WebhookOut, operation_id="get_webhook",
            summary="Get a webhook", responses=responses(401, 403, 404))
def get_webhook(webhook_id: str, ctx: Auth, response: Response) -> WebhookOut:
    return _out(response, webhooks.get(ctx, webhook_id))


@router.post("/{webhook_id}/disable", response_model=WebhookOut,
             operation_id="disable_webhook", summary="Stop deliveries",
             responses=responses(401, 403, 404, 412, 422))
def disable_webhook(webhook_id: str, body: DisableIn, ctx: Auth, expected: IfMatch,
                    response: Response) -> WebhookOut:
    """Pending deliveries wait until the webhook is enabled again."""
    sub = webhooks.get(ctx, webhook_id, lock=True)
    return _out(response, webhooks.disable(ctx, sub, body.reason, expected))


@router.post("/{webhook_id}/enable", response_model=WebhookOut,
             operation_id="enable_webhook", summary="Resume deliveries",
             responses=responses(401, 403, 404, 412))
def enable_webhook(webhook_id: str, ctx: Auth, expected: IfMatch, response: Response,
                   body: Annotated[EnableIn, Body(default_factory=EnableIn)]) -> WebhookOut:
    """The failure count starts over and waiting deliveries are due at once."""
    sub = webhooks.get(ctx, webhook_id, lock=True)
    return _out(response, webhooks.enable(ctx, sub, expected, body.note))


@router.post("/{webhook_id}/replay", response_model=WebhookOut,
             operation_id="replay_webhook", summary="Deliver again from a feed cursor",
             responses=responses(401, 403, 404, 412, 422))
def replay_webhook(
    webhook_id: str, ctx: Auth, expected: IfMatch, response: Response,
    from_: Annotated[str, Query(alias="from", description="Feed cursor: events after it "
                                "are delivered again (0: from the first event)",
                                examples=["1042"])],
) -> WebhookOut:
    """Every selected event after the cursor is queued again, delivered before or not."""
    sub = webhooks.get(ctx, webhook_id, lock=True)
    return _out(response, webhooks.replay(ctx, sub, from_, expected))


@router.get("/{webhook_id}/deliveries", response_model=Page, operation_id="list_deliveries",
            summary="Delivery log", responses=responses(401, 403, 404, 422))
def list_deliveries(
    webhook_id: str, ctx: Auth, cursor: str | None = None,
    status_: Annotated[Literal["pending", "delivered", "failed"] | None,
                       Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page:
    """Deliveries, newest event first: status, attempts, the last answer or error, when
    the next attempt is due, and the log of the last attempts."""
    sub = webhooks.get(ctx, webhook_id)
    items: list[Any]
    items, nxt = webhooks.deliveries(ctx, sub, cursor, limit, status_)
    return Page(items=items, next_cursor=nxt)
