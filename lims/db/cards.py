"""The read of a sample card: the sample with its collection, donor, the donor's consents,
storage place and open-excursion flag, in one query (one row per consent)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select as select_row
from sqlmodel import Session, col, select

from lims.db.tables import Collection, Consent, Donor, Excursion, Location, Sample


@dataclass(frozen=True)
class Origin:
    """A sample and what its card shows about where it comes from and where it is."""

    sample: Sample
    collection: Collection
    donor: Donor
    location_path: str | None
    open_excursion: bool
    consents: tuple[Consent, ...]  # the donor's, oldest first


def _query() -> Any:
    open_excursion = (select(Excursion.id)
                      .where(col(Excursion.sample_id) == col(Sample.id),
                             col(Excursion.reviewed_at).is_(None))
                      .exists())
    # SQLAlchemy's select: SQLModel's is typed for at most four columns.
    return (select_row(Sample, Collection, Donor, col(Location.path), open_excursion, Consent)
            .join(Collection, col(Collection.id) == col(Sample.collection_id))
            .join(Donor, col(Donor.id) == col(Sample.donor_id))
            .outerjoin(Location, col(Location.id) == col(Sample.location_id))
            .outerjoin(Consent, col(Consent.donor_id) == col(Sample.donor_id)))


def _origins(session: Session, q: Any) -> list[Origin]:
    rows = session.execute(q.order_by(col(Sample.id), col(Consent.obtained_at), col(Consent.id)))
    found: dict[str, tuple[Any, list[Consent]]] = {}
    for s, c, d, path, exc, consent in rows:
        _, consents = found.setdefault(s.id, ((s, c, d, path, exc), []))
        if consent is not None:
            consents.append(consent)
    return [Origin(sample=s, collection=c, donor=d, location_path=path,
                   open_excursion=bool(exc), consents=tuple(consents))
            for (s, c, d, path, exc), consents in found.values()]


def origin(session: Session, sample_id: str) -> Origin | None:
    found = _origins(session, _query().where(col(Sample.id) == sample_id))
    return found[0] if found else None


def origins_by_identity(session: Session, din: str, product_code: str | None,
                        division: str | None) -> list[Origin]:
    """The samples of the donation `din` (narrowed by product code and division if
    given), each with its origin, in id order."""
    q = _query().where(col(Collection.din) == din)
    if product_code:
        q = q.where(col(Sample.product_code) == product_code)
    if division:
        q = q.where(col(Sample.division) == division)
    return _origins(session, q)
