"""Who is acting, in which transaction, at what time: passed to every use case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lims.config import Settings
from lims.db.engine import Session
from lims.db.types import utcnow


@dataclass(frozen=True)
class Actor:
    id: str
    name: str
    roles: frozenset[str]
    username: str = ""


SYSTEM = Actor(id="system", name="lims system", roles=frozenset(), username="system")


@dataclass
class Context:
    """The unit of work for one request, command or job. Services never commit."""

    session: Session
    actor: Actor
    settings: Settings
    now: datetime = field(default_factory=utcnow)
    request_id: str | None = None
    client_addr: str | None = None
