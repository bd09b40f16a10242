"""Filters of the lists as typed query parameters, shared by a list and its CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Depends, Query

from lims.api.schemas import Instant
from lims.domain import sources
from lims.domain.states import State
from lims.services.context import Context
from lims.services.views import SampleFilter

if TYPE_CHECKING:
    Kind = str
else:
    Kind = Literal[tuple(sorted(sources.KINDS))]
Code = Annotated[str | None, Query(min_length=1, max_length=40)]
Ref = Annotated[str | None, Query(min_length=1, max_length=80,
                                  description="Your own reference, given on create")]
# A page's cursor is the base64url of the last id seen (UUIDv7, 36 characters).
Cursor = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{48}$",
                                     description="next_cursor of the previous page")]
Since = Annotated[Instant | None, Query(description="Only records changed at or after this "
                                                    "time (ISO 8601 with zone)")]


@dataclass(frozen=True)
class _SampleQuery:
    f: SampleFilter


def _sample_query(
    state: Annotated[list[State] | None, Query(description="One or more states")] = None,
    source: Annotated[list[sources.Source] | None, Query(description="One or more")] = None,
    kind: Annotated[list[Kind] | None, Query(description="One or more sample kinds")] = None,
    donor_id: Code = None, collection_id: Code = None,
    on_hold: bool | None = None, overdue: bool | None = None,
    code: Annotated[str | None, Query(min_length=1, max_length=40,
                                      description="Sample code, e.g. W123426000123-S1234-00")
                    ] = None,
    din: Annotated[str | None, Query(min_length=13, max_length=13,
                                     description="Donation identification number")] = None,
    donor_code: Code = None, external_ref: Ref = None, updated_since: Since = None,
) -> _SampleQuery:
    return _SampleQuery(SampleFilter(
        states=tuple(s.value for s in state or ()), sources=tuple(s.value for s in source or ()),
        kinds=tuple(kind or ()), donor_id=donor_id, collection_id=collection_id,
        on_hold=on_hold, overdue=overdue, code=code, din=din, donor_code=donor_code,
        external_ref=external_ref, updated_since=updated_since))


SampleFilters = Annotated[_SampleQuery, Depends(_sample_query)]


def sample_filter(ctx: Context, q: _SampleQuery) -> SampleFilter:
    """The filter as the caller means it: `external_ref` is the caller's own reference."""
    from dataclasses import replace

    return replace(q.f, owner_id=ctx.actor.id)
