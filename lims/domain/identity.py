"""Chain of identity at the bedside: does this product belong to this patient, now? Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from lims.domain.clock import elapsed, hours, readable
from lims.domain.errors import Invalid

_AIM = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_WRISTBAND = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,59}$")
# What a scanner may type for a wristband (the API document states it).
WRISTBAND_PATTERN = (r"^[ \t\r\n]*(\][A-Za-z][0-9A-Za-z])?[ \t\r\n]*"
                     r"[A-Za-z0-9][A-Za-z0-9-]{2,59}[ \t\r\n]*$")


def parse_wristband(raw: str) -> str:
    """What a scanner typed from a wristband, cleaned the way product scans are."""
    text = raw.strip()
    text = _AIM.sub("", text).strip().upper()
    if not _WRISTBAND.match(text):
        raise Invalid("This is not a patient wristband code: scan the barcode on the "
                      "patient's wristband.")
    return text


@dataclass(frozen=True)
class BedsideFacts:
    state: str
    on_hold: bool
    expires_at: datetime | None
    thawed_at: datetime | None
    product_wristband: str | None  # wristband of the patient the product is for
    distributed_to: str | None
    scanned_wristband: str
    site: str | None
    now: datetime
    zone: tzinfo  # the lab's: the nurse reads the expiry on the ward's clock


def mismatches(f: BedsideFacts) -> list[str]:
    """Every reason the product must not be given to this patient now (empty = match)."""
    out = []
    if f.product_wristband is None or f.product_wristband != f.scanned_wristband:
        out.append("wrong patient: this product is not assigned to the patient scanned")
    if f.state not in ("distributed",):
        out.append(f"product not released and distributed for administration (it is {f.state})")
    elif f.site and f.distributed_to and f.site.strip().lower() != f.distributed_to.lower():
        out.append(f"product was distributed to {f.distributed_to}, not to {f.site}")
    # One expiry, set by the product table at collection, freezing and thawing (the thaw
    # starts the post-thaw window) and inherited by what is made from the material.
    if f.expires_at and f.expires_at <= f.now:
        thawed = (f" (thawed {hours(elapsed(f.thawed_at, f.now))} ago: past its post-thaw "
                  "window)" if f.thawed_at else "")
        out.append(f"product expired at {readable(f.expires_at, f.zone)}{thawed}")
    if f.on_hold:
        out.append("product is on hold (quarantine)")
    return out
