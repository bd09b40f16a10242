"""What one label says, validated so that a mismatched label cannot be built."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from lims.domain import isbt

_DIN = re.compile(r"[A-NP-Z1-9]\d{12}")
_DIN_STRUCTURE = re.compile(r"=([A-NP-Z1-9]\d{12})([0-9A-Z]{2})")
_PRODUCT_STRUCTURE = re.compile(r"=<[A-Z]\d{4}[0-9A-Z][0-9A-Z][0-9a-z]")


def _latin1(t: str) -> bool:
    # Latin-1: what the PDF core fonts and ZPL font 0 (^CI28 aside) cover.
    return t.isprintable() and max(map(ord, t), default=0) <= 255


@dataclass(frozen=True)
class LabelContent:
    """Everything a label may show. Small containers show part of it (see the templates).

    ``expiry`` is an aware datetime in the lab's time zone: it is printed as such
    ("2026-12-01 19:20 CET") and encoded in ISBT data structure 005 in that local time.
    """

    payload: str
    identifier: str
    check: str
    product: str
    product_code: str
    donor_code: str
    collection_date: dt.date
    expiry: dt.datetime | None
    warnings: tuple[str, ...] = ()  # stop-use warnings: never dropped from any label
    reprint: bool = False
    facility: str = ""
    abo_rh: str | None = None  # only where it was tested
    attributes: tuple[str, ...] = ()  # "Cryopreserved", ...
    volume: str = ""  # approximate volume and anticoagulant
    storage: str = ""  # storage temperature statement
    recipient: str | None = None  # intended recipient, when the product has one
    statements: tuple[str, ...] = ()  # "Do Not Irradiate", "Rx only", ...

    def __post_init__(self) -> None:
        for name in ("warnings", "attributes", "statements"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        p = self.payload
        if not p or not all(" " <= c <= "~" for c in p):
            raise ValueError("payload must be non-empty printable ASCII")
        if "://" in p:
            raise ValueError("payload must carry the identifier, not a URL")
        if len(self.check) != 1 or self.check not in isbt.CHECK_ALPHABET:
            raise ValueError(f"check must be one character of {isbt.CHECK_ALPHABET}")
        texts = (self.identifier, self.product, self.product_code, self.donor_code,
                 self.facility, self.abo_rh or "", self.volume, self.storage,
                 self.recipient or "", *self.warnings, *self.attributes, *self.statements)
        for t in texts:
            if not _latin1(t):
                raise ValueError(f"{t!r}: printable Latin-1 text only")
        if not self.identifier.strip():
            raise ValueError("identifier is empty")
        if self.expiry is not None:
            if self.expiry.tzinfo is None or self.expiry.utcoffset() is None:
                raise ValueError("expiry must carry its time zone (the lab's)")
            if self.expiry.date() < self.collection_date:
                raise ValueError("expiry is before the collection date")
        # Last line of defence for chain of identity: text, check box and code must agree.
        din = self.identifier.replace(" ", "")
        if _DIN.fullmatch(din):
            if isbt.check_character(din) != self.check:
                raise ValueError(f"check {self.check!r} does not match DIN {din}")
            if "=" + din not in p:
                raise ValueError(f"payload {p!r} does not carry DIN {din}")
            i = p.index("=" + din) + 14
            if not isbt.flags_agree(din, p[i:i + 2]):
                # lims.domain.isbt.parse_scan would reject this label when it is scanned.
                raise ValueError(f"payload flags {p[i:i + 2]} should be "
                                 f"{60 + isbt.check_value(din)} (type 3, check)")

    @property
    def din_flags(self) -> str:
        """The two flag characters of the DIN data structure in the payload ("" if none)."""
        m = _DIN_STRUCTURE.search(self.payload)
        return m.group(2) if m else ""

    def linear_data(self, which: str) -> str | None:
        """The ISBT data structure a Code 128 symbol carries, None when there is none."""
        if which == "din":
            m = _DIN_STRUCTURE.search(self.payload)
            return m.group(0) if m else None
        if which == "product":
            m = _PRODUCT_STRUCTURE.search(self.payload)
            return m.group(0) if m else None
        if which == "expiry":
            return isbt.expiry_data_structure(self.expiry) if self.expiry else None
        raise ValueError(f"unknown linear data {which!r}")

    def expiry_text(self) -> str:
        """"2026-12-01 19:20 CET": minutes, the zone's abbreviation, no seconds."""
        return f"{self.expiry:%Y-%m-%d %H:%M %Z}".strip() if self.expiry else ""
