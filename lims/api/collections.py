"""Collections (harvests): each creates its DIN and primary samples."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from lims.api.contract import ContractRoute
from lims.api.deps import Auth
from lims.api.filters import Code, Cursor, Ref, Since
from lims.api.problems import responses
from lims.api.samples import nest, sample_out
from lims.api.schemas import CollectionIn, CollectionOut, Page, Source
from lims.db.tables import Collection
from lims.services import collections, donors, lineage
from lims.services.collections import Container
from lims.services.context import Context

router = APIRouter(tags=["collections"], route_class=ContractRoute)


def collection_out(ctx: Context, c: Collection) -> CollectionOut:
    items = collections.samples_of(ctx, c.id)
    return CollectionOut.model_validate(c).model_copy(
        update={"samples": [sample_out(ctx, s) for s in items if s.parent_id is None]})


@router.post("/collections", status_code=status.HTTP_201_CREATED, response_model=CollectionOut,
             operation_id="record_collection", responses=responses(401, 403, 404, 409, 422))
def record_collection(body: CollectionIn, ctx: Auth) -> CollectionOut:
    """Record a harvest: allocates the DIN and creates the primary container(s)."""
    donor = donors.donor(ctx, body.donor_id)
    containers = [Container(c.kind, c.volume_ml) for c in body.containers or []]
    fields = body.model_dump(exclude={"donor_id", "containers"})
    collection, _ = collections.create_collection(ctx, donor, containers=containers or None,
                                                  **fields)
    return collection_out(ctx, collection)


@router.get("/collections", response_model=Page, operation_id="list_collections",
            responses=responses(401, 403, 422))
def list_collections(ctx: Auth, donor_id: Code = None,
                     source: Annotated[list[Source] | None, Query()] = None,
                     din: Annotated[str | None, Query(min_length=13, max_length=13)] = None,
                     external_ref: Ref = None, updated_since: Since = None,
                     cursor: Cursor = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page:
    """Collections, oldest first; look one up by `din` or by your own `external_ref`."""
    rows, nxt = collections.page(
        ctx, cursor, limit, donor_id=donor_id,
        sources=tuple(s.value for s in source or ()), din=din, external_ref=external_ref,
        updated_since=updated_since)
    return Page(items=[CollectionOut.model_validate(c) for c in rows], next_cursor=nxt)


@router.get("/collections/{collection_id}", response_model=CollectionOut,
            operation_id="get_collection", responses=responses(401, 403, 404))
def get_collection(collection_id: str, ctx: Auth) -> CollectionOut:
    return collection_out(ctx, collections.collection(ctx, collection_id))


@router.get("/collections/{collection_id}/lineage", operation_id="collection_lineage",
            responses=responses(401, 403, 404))
def collection_lineage(collection_id: str, ctx: Auth) -> dict[str, Any]:
    """Every sample of the collection as a tree from the primary containers down."""
    c = collections.collection(ctx, collection_id)
    family = collections.samples_of(ctx, c.id)
    return {"collection": {"id": c.id, "din": c.din, "source": c.source},
            "samples": nest(lineage.tree(family))}


@router.get("/donors/{donor_id}/lineage", operation_id="donor_lineage", tags=["donors"],
            responses=responses(401, 403, 404))
def donor_lineage(donor_id: str, ctx: Auth) -> dict[str, Any]:
    """Every collection of the donor and every sample descended from it."""
    donor, harvests, family = collections.of_donor(ctx, donor_id)
    by_collection: dict[str, list] = {}
    for s in family:
        by_collection.setdefault(s.collection_id, []).append(s)
    return {"donor": {"id": donor.id, "code": donor.code},
            "collections": [{"id": c.id, "din": c.din, "source": c.source,
                             "samples": nest(lineage.tree(by_collection.get(c.id, [])))}
                            for c in harvests]}
