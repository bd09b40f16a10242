"""ISBT 128 identifiers: DIN check character, data structures, divisions, dates, scan parsing.

Pure functions only: no I/O and no clock, so dates and years are always passed in.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

CHECK_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"

# ISBT 128 type-of-collection characters we support in the product code data structure.
COLLECTION_TYPE: dict[str, str] = {
    "allogeneic_unrelated": "V", "allogeneic_related": "D", "autologous": "1", "unspecified": "0",
}

_NOT_ISBT = "This is not an ISBT 128 label code"
# O and 0 are excluded as a facility's first character so they cannot be confused.
_FIN_FIRST = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"
# AIM symbology identifiers a keyboard-wedge scanner may prepend: QR, Data Matrix, Code 128.
# Matched case-insensitively because Caps Lock flips the case of everything a wedge types.
_AIM_PREFIX = re.compile(r"^\](?:[Qq][1-6]|[Dd][1-6]|[Cc][01])")


class InvalidCode(ValueError):
    """A code that cannot be used; the message is written for the person at the bench."""


@dataclass(frozen=True)
class ShelfLife:
    """How long a product may be used: hours (fresh, thawed) or calendar years (frozen)."""

    hours: float | None = None
    years: int | None = None

    def __post_init__(self) -> None:
        if (self.hours is None) == (self.years is None):
            raise ValueError("a shelf life is given in hours or in years, not both or neither")
        if (self.hours or self.years or 0) <= 0:
            raise ValueError("a shelf life must be positive")

    def after(self, at: datetime) -> datetime:
        if self.years is not None:
            try:
                return at.replace(year=at.year + self.years)
            except ValueError:  # 29 February in a year that has none: the day before
                return at.replace(year=at.year + self.years, day=28)
        assert self.hours is not None  # __post_init__: one of the two is set
        return at + timedelta(hours=self.hours)


@dataclass(frozen=True)
class ProductType:
    """What a sample kind is called and coded as on an ISBT 128 label, and how long it keeps.

    ``fresh``: from the end of collection; ``cryopreserved``: from the freeze;
    ``post_thaw``: from the thaw. None means no expiry is assigned at that point.
    """

    kind: str
    code: str
    class_name: str
    isbt_published: bool
    fresh: ShelfLife | None = None
    cryopreserved: ShelfLife | None = None
    post_thaw: ShelfLife | None = None
    # Viable cells for administration: ISBT 128 ST-004 "Do Not Irradiate".
    do_not_irradiate: bool = False
    # Storage statement for the bag label, fresh and frozen.
    storage_fresh: str = ""
    storage_frozen: str = ""


@dataclass(frozen=True)
class ScannedCode:
    """What a label scan or a hand-typed DIN resolved to."""

    din: str
    check: str
    product_code: str | None
    collection_type: str | None
    division: str | None


def validate_facility(fin: str) -> str:
    """Upper-case and validate a 5-character facility identification number (αpppp)."""
    fin = fin.upper()
    if len(fin) != 5:
        raise InvalidCode(f"Facility number {fin!r} has {len(fin)} characters; it must have 5 "
                          "(one letter or digit, then 4 digits), as assigned by ICCBBA")
    if fin[0] not in _FIN_FIRST:
        raise InvalidCode(f"Facility number {fin} cannot start with {fin[0]!r}: the first "
                          "character is a letter or a digit 1-9 (never O or 0, they look alike)")
    if not fin[1:].isdigit() or not fin[1:].isascii():
        raise InvalidCode(f"Facility number {fin}: the last 4 characters must be digits; check "
                          "the number ICCBBA assigned to your facility")
    return fin


def flags_agree(din13: str, flags: str) -> bool:
    """The one rule for DIN flags: flags 60-96 ("type 3") must carry 60 + the check value.

    Other flag values (00, letters...) carry other meanings and are not checked here.
    """
    if flags.isascii() and flags.isdigit() and len(flags) == 2 and 60 <= int(flags) <= 96:
        return int(flags) == 60 + check_value(din13)
    return True


def validate_din(din13: str) -> str:
    """Upper-case and validate the shape of a 13-character DIN (αppppyynnnnnn)."""
    din = din13.upper()
    if len(din) != 13:
        raise InvalidCode(f"DIN {din!r} has {len(din)} characters; a DIN has 13 "
                          "(facility 5, year 2, sequence 6)")
    validate_facility(din[:5])
    if not din[5:].isdigit() or not din[5:].isascii():
        raise InvalidCode(f"DIN {din}: after the facility number the last 8 characters (year "
                          "and sequence number) must all be digits; check for a letter O typed "
                          "instead of 0")
    return din


def check_value(din13: str) -> int:
    """ISO/IEC 7064 MOD 37-2 check value (0-36) of a DIN."""
    din = validate_din(din13)
    p = 0
    for ch in din:
        p = (p + CHECK_ALPHABET.index(ch)) * 2 % 37
    # Choose the check so that the full weighted sum is congruent to 1 modulo 37.
    return (38 - p) % 37


def check_character(din13: str) -> str:
    """The check character printed in a box next to the human-readable DIN."""
    return CHECK_ALPHABET[check_value(din13)]


def _int_arg(value: int, what: str) -> int:
    # bool is an int subclass; True as a year or sequence is always a programming slip.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCode(f"{what} must be a whole number, not {value!r}")
    return value


def format_din(facility: str, year: int, sequence: int) -> str:
    """Build a DIN from facility number, year (2026 or 26) and sequence number (1-999999)."""
    fin = validate_facility(facility)
    year = _int_arg(year, "Year")
    if not (0 <= year <= 99 or 1000 <= year <= 9999):
        raise InvalidCode(f"Year {year} is not valid: give the full year (2026) or its last two "
                          "digits (26)")
    sequence = _int_arg(sequence, "Sequence number")
    if not 1 <= sequence <= 999_999:
        raise InvalidCode(f"Sequence number {sequence} is out of range: a DIN sequence number "
                          "runs from 1 to 999999 within one facility and year")
    return f"{fin}{year % 100:02d}{sequence:06d}"


def din_data_structure(din13: str, flags: str | None = None) -> str:
    """ISBT data structure 001 (`=` + DIN + 2 flags); default "type 3" flags carry the check."""
    din = validate_din(din13)
    expected = f"{60 + check_value(din)}"
    if flags is None:
        return f"={din}{expected}"
    flags = flags.upper()
    if len(flags) != 2 or not flags.isalnum() or not flags.isascii():
        raise InvalidCode(f"DIN flags {flags!r} must be exactly 2 letters or digits")
    if not flags_agree(din, flags):
        # Flags 60-96 claim to carry the check value; a wrong one would print a bad label.
        raise InvalidCode(f"DIN {din} flags should be {expected}, not {flags}: flags 60-96 "
                          "carry the check character")
    return f"={din}{flags}"


# Every code below is a LOCAL PLACEHOLDER: we do not hold the ICCBBA product code database.
# isbt_published=True only means ISBT 128 terminology has the class (HPC and MSC classes);
# those codes MUST be replaced by the real ones from the ICCBBA product database before go-live.
# The other kinds have no ISBT class (plasma and red cells here are processing fractions,
# not the transfusion components ISBT codes as blood products).
#
# Shelf lives are this lab's validated stability (DOMAIN.md: configuration per product kind);
# change them here, with the validation report, not in code that uses them:
#   kind              fresh   cryopreserved  post-thaw
#   bone_marrow       72 h    10 years       4 h
#   cord_blood        72 h    20 years       4 h
#   hsc_cd34          48 h    10 years       4 h
#   msc_marrow/adipose/cord 48 h  5 years    6 h
#   lipoaspirate      24 h    -              -
#   mnc               48 h    10 years       4 h
#   svf               24 h    5 years        4 h
#   ipsc              -       -              24 h   (a line: no fresh or frozen expiry)
#   plasma            24 h    2 years        24 h
#   red_cells         72 h    2 years        24 h
#   qc_sample         72 h    10 years       24 h
#   maternal_sample   7 days  10 years       24 h


def _H(hours: float) -> ShelfLife:
    return ShelfLife(hours=hours)


def _Y(years: int) -> ShelfLife:
    return ShelfLife(years=years)


_COLD, _LN2, _MINUS80 = ("Store at 2-8 \u00b0C", "Store at -150 \u00b0C or colder",
                         "Store at -80 \u00b0C or colder")


def _cells(kind: str, code: str, name: str, published: bool, fresh: ShelfLife | None,
           frozen: ShelfLife | None, thawed: ShelfLife | None) -> ProductType:
    """Viable cells: never irradiated; cold but unfrozen when fresh, in LN2 vapour frozen."""
    return ProductType(kind, code, name, published, fresh, frozen, thawed, do_not_irradiate=True,
                       storage_fresh=f"{_COLD}, do not freeze", storage_frozen=_LN2)


def _other(kind: str, code: str, name: str, fresh: ShelfLife | None, frozen: ShelfLife | None,
           thawed: ShelfLife | None) -> ProductType:
    return ProductType(kind, code, name, False, fresh, frozen, thawed, storage_fresh=_COLD,
                       storage_frozen=_MINUS80 if frozen else "")


PRODUCT_TYPES: dict[str, ProductType] = {
    p.kind: p
    for p in (
        _cells("bone_marrow", "S1001", "HPC, Marrow", True, _H(72), _Y(10), _H(4)),
        _cells("cord_blood", "S1002", "HPC, Cord Blood", True, _H(72), _Y(20), _H(4)),
        # ISBT codes selected cells as the HPC class with a "CD34 enriched" attribute.
        _cells("hsc_cd34", "S1003", "HPC, CD34 enriched", True, _H(48), _Y(10), _H(4)),
        _cells("msc_marrow", "S1101", "MSC(M)", True, _H(48), _Y(5), _H(6)),
        _cells("msc_adipose", "S1102", "MSC(AT)", True, _H(48), _Y(5), _H(6)),
        _cells("msc_cord", "S1103", "MSC(CB)", True, _H(48), _Y(5), _H(6)),
        _other("lipoaspirate", "S9001", "Adipose tissue, lipoaspirate", _H(24), None, None),
        _cells("mnc", "S9002", "MNC", False, _H(48), _Y(10), _H(4)),
        _cells("svf", "S9003", "SVF", False, _H(24), _Y(5), _H(4)),
        _cells("ipsc", "S9004", "iPSC line", False, None, None, _H(24)),
        _other("plasma", "S9005", "Plasma fraction", _H(24), _Y(2), _H(24)),
        _other("red_cells", "S9006", "Red cell fraction", _H(72), _Y(2), _H(24)),
        _other("qc_sample", "S9007", "QC sample", _H(72), _Y(10), _H(24)),
        _other("maternal_sample", "S9008", "Maternal sample", _H(7 * 24), _Y(10), _H(24)),
    )
}

# The events that set a new expiry, and which shelf life each one starts.
EXPIRY_EVENTS: dict[str, str] = {
    "collect": "fresh", "cryopreserve": "cryopreserved", "thaw": "post_thaw",
}


def expiry(kind: str, *, event: str, at: datetime) -> datetime | None:
    """The expiry an event sets: ``at`` (aware) plus the kind's shelf life for that event.

    Only the events of EXPIRY_EVENTS set an expiry; None means the product has no expiry
    from then on (e.g. a frozen iPSC line), so a caller replaces the old one with None.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidCode("The time an expiry is counted from must carry its time zone")
    try:
        which = EXPIRY_EVENTS[event]
    except KeyError:
        raise InvalidCode(f"Event {event!r} does not set an expiry; only "
                          f"{', '.join(EXPIRY_EVENTS)} do") from None
    life: ShelfLife | None = getattr(product_type(kind), which)
    return None if life is None else life.after(at)


def product_type(kind: str) -> ProductType:
    """Look up the product type of one of our sample kinds."""
    try:
        return PRODUCT_TYPES[kind]
    except KeyError:
        known = ", ".join(sorted(PRODUCT_TYPES))
        raise InvalidCode(f"Unknown sample kind {kind!r}; known kinds: {known}") from None


def _product_code(code5: str) -> str:
    code = code5.upper()
    if not re.fullmatch(r"[A-Z][0-9]{4}", code):
        raise InvalidCode(f"Product code {code5!r} must be a letter followed by 4 digits "
                          "(e.g. S1001)")
    return code


def _collection_char(collection_type: str) -> str:
    # Accept our names ("autologous") as well as the ISBT character itself ("1").
    char = COLLECTION_TYPE.get(collection_type, collection_type.upper())
    if char not in COLLECTION_TYPE.values():
        raise InvalidCode(f"Collection type {collection_type!r} is not supported; use one of "
                          f"{', '.join(COLLECTION_TYPE)} (V, D, 1 or 0)")
    return char


def _division(division: str) -> str:
    """Validate a division: "00", "A0".."Z0" or "Aa".."Zz"; only the first char is upper-cased."""
    if len(division) != 2 or not division.isascii():
        raise InvalidCode(f"Division {division!r} must be 2 characters (00, A0 or Aa)")
    div = division[0].upper() + division[1]
    if div == "00" or (div[0] in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       and (div[1] == "0" or div[1] in "abcdefghijklmnopqrstuvwxyz")):
        return div
    if div[0].isalpha() and div[1] in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        # A capital here means something changed the case (Caps Lock, scanner setting);
        # we refuse to guess which aliquot was meant.
        raise InvalidCode(
            f"Division {division!r}: the second character of a sub-division is printed as a "
            f"small letter ({div[0]}{div[1].lower()}). Turn Caps Lock off or check the "
            "scanner's case setting, then scan again"
        )
    raise InvalidCode(f"Division {division!r} is not valid: expected 00, A0 to Z0, or Aa to Zz")


def product_code_data_structure(code5: str, collection_type: str, division: str) -> str:
    """ISBT data structure 003: `=<` + product code + collection type + 2-char division."""
    return f"=<{_product_code(code5)}{_collection_char(collection_type)}{_division(division)}"


def division_code(index: int) -> str:
    """First-level division of aliquot `index`: 0 -> "00" (undivided), 1 -> "A0" .. 26 -> "Z0"."""
    index = _int_arg(index, "Aliquot number")
    if not 0 <= index <= 26:
        raise InvalidCode(f"Aliquot number {index} is out of range: one product can be divided "
                          "into at most 26 aliquots (A to Z) at one level")
    return "00" if index == 0 else f"{chr(64 + index)}0"


def sub_division(parent_division: str, index: int) -> str:
    """Second-level division: ("A0", 1) -> "Aa" .. ("A0", 26) -> "Az"."""
    parent = _division(parent_division)
    if parent == "00":
        raise InvalidCode("An undivided product (00) is split with first-level divisions "
                          "A0 to Z0, not sub-divisions")
    if parent[1] != "0":
        raise InvalidCode(f"Division {parent} is already a sub-division; ISBT 128 allows only "
                          "two levels of division")
    index = _int_arg(index, "Aliquot number")
    if not 1 <= index <= 26:
        raise InvalidCode(f"Aliquot number {index} is out of range: division {parent} can be "
                          "split into at most 26 sub-divisions (a to z)")
    return f"{parent[0]}{chr(96 + index)}"


def isbt_date(d: date) -> str:
    """`cyyjjj`: century digit (year // 100 % 10), two-digit year, day of year."""
    if not 1900 <= d.year <= 2899:
        raise InvalidCode(f"Date {d.isoformat()} is outside 1900-2899 and cannot be encoded")
    return f"{d.year // 100 % 10}{d.year % 100:02d}{d.timetuple().tm_yday:03d}"


def parse_isbt_date(s: str) -> date:
    """Inverse of isbt_date; century digit 9 is the 1900s, 0 the 2000s .. 8 the 2800s."""
    if len(s) != 6 or not s.isdigit() or not s.isascii():
        raise InvalidCode(f"Date code {s!r} must be 6 digits (cyyjjj)")
    year = 1900 + (int(s[0]) - 9) % 10 * 100 + int(s[1:3])
    day = int(s[3:])
    last = 366 if date(year, 12, 31).timetuple().tm_yday == 366 else 365
    if not 1 <= day <= last:
        raise InvalidCode(f"Date code {s}: day {day} does not exist in {year} (1 to {last})")
    return date(year, 1, 1) + timedelta(days=day - 1)


def expiry_data_structure(local: datetime) -> str:
    """ISBT data structure 005 `&>cyyjjjhhmm`: expiry date and time, in the lab's local time."""
    return f"&>{isbt_date(local.date())}{local:%H%M}"


def collection_date_data_structure(local: date) -> str:
    """ISBT data structure 006 `=*cyyjjj`: the collection date."""
    return f"=*{isbt_date(local)}"


def label_payload(din13: str, code5: str, collection_type: str, division: str) -> str:
    """The 2-D barcode payload: DIN data structure (type-3 flags) + product code structure."""
    product = product_code_data_structure(code5, collection_type, division)
    return din_data_structure(din13) + product


def human_din(din13: str) -> str:
    """DIN spaced for reading: "G1234 17 654321" (the check character is boxed separately)."""
    din = validate_din(din13)
    return f"{din[:5]} {din[5:7]} {din[7:]}"


def parse_scan(raw: str) -> ScannedCode:
    """Parse what a keyboard-wedge scanner (or a person) typed into a ScannedCode."""
    text = _AIM_PREFIX.sub("", raw.strip()).strip()
    if not text:
        raise InvalidCode(f"{_NOT_ISBT}: nothing was received; scan the label again")
    if "://" in text or text.lower().startswith("www."):
        raise InvalidCode(f"{_NOT_ISBT}: it is a web address. Scan the ISBT 128 barcode on the "
                          "sample label instead")
    if text.startswith("=<"):
        raise InvalidCode(f"{_NOT_ISBT} on its own: it is the product code only; scan the "
                          "donation number (DIN) barcode or the 2-D code")
    if text.startswith("="):
        # Upper-case all but the division's second character, which is legitimately small.
        if len(text) == 26 and text[16:18] == "=<":
            upper = text[:25].upper() + text[25]
        elif len(text) == 16:
            upper = text.upper()
        else:
            raise InvalidCode(f"{_NOT_ISBT}: it starts like one but is neither a DIN code "
                              f"(16 characters) nor a full label code (26); got {len(text)}. "
                              "Scan the label again")
        if not upper[1:16].isalnum() or not upper[1:16].isascii():
            raise InvalidCode(f"{_NOT_ISBT}: it contains characters a DIN cannot have")
        flags = upper[14:16]
        din = validate_din(upper[1:14])
        expected = f"{60 + check_value(din)}"
        if not flags_agree(din, flags):
            # Type-3 flags carry the check value; a mismatch means a misprinted or misread code.
            raise InvalidCode(f"DIN {din}: the barcode's check flags {flags} should be {expected}"
                              f" (check character {check_character(din)}): the code was misread "
                              "or misprinted; scan again, and reprint the label if it repeats")
        if len(upper) == 16:
            return ScannedCode(din, check_character(din), None, None, None)
        return ScannedCode(din, check_character(din), _product_code(upper[18:23]),
                           _collection_char(upper[23]), _division(upper[24:26]))
    # Hand-typed DIN: spaces between the printed groups are allowed.
    typed = text.replace(" ", "").upper()
    if len(typed) == 13 and typed.isalnum():
        raise InvalidCode(f"DIN {typed} was typed without its check character: add the "
                          "character printed in the box after the DIN so typing errors are "
                          "caught")
    if len(typed) != 14 or not typed.isascii() or not typed[:13].isalnum() \
            or typed[13] not in CHECK_ALPHABET:
        raise InvalidCode(f"{_NOT_ISBT}: expected a scanned label, or a DIN typed with its check "
                          "character such as G1234 17 654321 A")
    din, check = validate_din(typed[:13]), typed[13]
    if check != check_character(din):
        raise InvalidCode(f"DIN {din} check character should be {check_character(din)}, not "
                          f"{check}: the number was probably mistyped; scan the label again or "
                          "retype it")
    return ScannedCode(din, check, None, None, None)
