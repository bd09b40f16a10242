"""Tests for lims.domain.isbt (ISBT 128 identifiers).

Expected values come from the published vectors (G123417654321 -> A, G123498654321 -> H)
or were worked by hand with MOD 37-2 (p = (p + v) * 2 mod 37 per character, check =
(38 - p) mod 37), e.g. A000000000000: p = 20, 3, 6, 12, 24, 11, 22, 7, 14, 28, 19, 1, 2
-> check 36 = "*".
"""

import dataclasses
import random
from datetime import date

import pytest

from lims.domain.isbt import (
    CHECK_ALPHABET,
    COLLECTION_TYPE,
    PRODUCT_TYPES,
    InvalidCode,
    ProductType,
    ScannedCode,
    check_character,
    check_value,
    din_data_structure,
    division_code,
    format_din,
    human_din,
    isbt_date,
    label_payload,
    parse_isbt_date,
    parse_scan,
    product_code_data_structure,
    product_type,
    sub_division,
    validate_din,
    validate_facility,
)

# --- check character -------------------------------------------------------------------------

HAND_WORKED = [
    ("G123417654321", "A", 10),  # published
    ("G123498654321", "H", 17),  # published
    ("A000000000000", "*", 36),  # hand-worked (module docstring)
    ("1000000000000", "N", 23),  # hand-worked: p = 2, 4, 8 .. 26, 15 -> 38 - 15 = 23
    ("G123426000003", "0", 0),  # hand-worked: p ends at 1 -> check 0
]


def test_alphabet_is_the_iso_7064_mod_37_2_alphabet() -> None:
    assert CHECK_ALPHABET == "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"


@pytest.mark.parametrize(("din", "char", "value"), HAND_WORKED)
def test_check_character_vectors(din: str, char: str, value: int) -> None:
    assert check_character(din) == char
    assert check_value(din) == value


def test_check_character_accepts_lower_case() -> None:
    assert check_character("g123417654321") == "A"


@pytest.mark.parametrize("bad", ["", "G12341765432", "G1234176543210", "G1234I7654321",
                                 "O123417654321", "0123417654321", "G12A417654321"])
def test_check_character_refuses_malformed_din(bad: str) -> None:
    with pytest.raises(InvalidCode):
        check_character(bad)


def _random_dins(count: int) -> list[str]:
    rng = random.Random(20260201)  # fixed seed: reproducible failures
    first = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"
    return [rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(12))
            for _ in range(count)]


def test_any_single_substitution_changes_the_check_character() -> None:
    checked = 0
    for din in _random_dins(60):
        original = check_character(din)
        for pos in range(13):
            for ch in CHECK_ALPHABET:
                if ch == din[pos]:
                    continue
                mutated = din[:pos] + ch + din[pos + 1:]
                try:
                    new = check_character(mutated)
                except InvalidCode:
                    continue  # caught by the shape check instead
                checked += 1
                assert new != original, (din, mutated)
    assert checked > 60 * 12 * 9  # guard: the loop really compared check characters


def test_any_adjacent_transposition_changes_the_check_character() -> None:
    checked = 0
    for din in _random_dins(300):
        original = check_character(din)
        for pos in range(12):
            if din[pos] == din[pos + 1]:
                continue
            swapped = din[:pos] + din[pos + 1] + din[pos] + din[pos + 2:]
            try:
                new = check_character(swapped)
            except InvalidCode:
                continue
            checked += 1
            assert new != original, (din, swapped)
    assert checked > 300 * 8


# --- DIN and facility ------------------------------------------------------------------------


@pytest.mark.parametrize(("facility", "year", "sequence", "din"), [
    ("G1234", 2017, 654321, "G123417654321"),
    ("G1234", 17, 654321, "G123417654321"),
    ("g1234", 2017, 654321, "G123417654321"),
    ("A0001", 2026, 1, "A000126000001"),
    ("90000", 2099, 999999, "9000099999999"),
    ("Z9999", 2000, 10, "Z999900000010"),
])
def test_format_din(facility: str, year: int, sequence: int, din: str) -> None:
    assert format_din(facility, year, sequence) == din


@pytest.mark.parametrize(("facility", "fragment"), [
    ("O1234", "never O or 0"),
    ("01234", "never O or 0"),
    ("G123", "must have 5"),
    ("G12345", "must have 5"),
    ("G12A4", "must be digits"),
    ("", "must have 5"),
])
def test_bad_facility(facility: str, fragment: str) -> None:
    with pytest.raises(InvalidCode, match=fragment):
        format_din(facility, 2026, 1)
    with pytest.raises(InvalidCode, match=fragment):
        validate_facility(facility)


def test_validate_facility_upper_cases() -> None:
    assert validate_facility("n1234") == "N1234"


@pytest.mark.parametrize("year", [-1, 100, 999, 10000, True])
def test_bad_year(year: int) -> None:
    with pytest.raises(InvalidCode, match="[Yy]ear"):
        format_din("G1234", year, 1)


@pytest.mark.parametrize("sequence", [0, 1_000_000, -5, True])
def test_bad_sequence(sequence: int) -> None:
    with pytest.raises(InvalidCode, match="[Ss]equence number"):
        format_din("G1234", 2026, sequence)


def test_validate_din_points_at_letter_o_in_digits() -> None:
    assert validate_din("g123417654321") == "G123417654321"
    with pytest.raises(InvalidCode, match="letter O"):
        validate_din("G1234176543O1")


def test_human_din() -> None:
    assert human_din("G123417654321") == "G1234 17 654321"


# --- data structures -------------------------------------------------------------------------


@pytest.mark.parametrize(("din", "structure"), [
    ("G123417654321", "=G12341765432170"),
    ("G123498654321", "=G12349865432177"),
    ("A000000000000", "=A00000000000096"),
    ("G123426000003", "=G12342600000360"),
])
def test_din_data_structure_type_3_flags(din: str, structure: str) -> None:
    assert din_data_structure(din) == structure


def test_din_data_structure_explicit_flags() -> None:
    assert din_data_structure("G123417654321", "00") == "=G12341765432100"
    assert din_data_structure("G123417654321", "70") == "=G12341765432170"


@pytest.mark.parametrize("flags", ["71", "60", "7", "700", "7-"])
def test_din_data_structure_bad_flags(flags: str) -> None:
    with pytest.raises(InvalidCode):
        din_data_structure("G123417654321", flags)


@pytest.mark.parametrize(("args", "structure"), [
    (("S1001", "V", "00"), "=<S1001V00"),
    (("S1001", "allogeneic_unrelated", "00"), "=<S1001V00"),
    (("S1002", "autologous", "A0"), "=<S10021A0"),
    (("S1002", "1", "Zz"), "=<S10021Zz"),
    (("s1003", "allogeneic_related", "Bc"), "=<S1003DBc"),
    (("S9001", "unspecified", "a0"), "=<S90010A0"),
])
def test_product_code_data_structure(args: tuple[str, str, str], structure: str) -> None:
    assert product_code_data_structure(*args) == structure


@pytest.mark.parametrize(("args", "fragment"), [
    (("S100", "V", "00"), "Product code"),
    (("51001", "V", "00"), "Product code"),
    (("S1001", "X", "00"), "Collection type"),
    (("S1001", "research", "00"), "Collection type"),
    (("S1001", "V", "AA"), "Caps Lock"),
    (("S1001", "V", "0a"), "not valid"),
    (("S1001", "V", "A"), "must be 2 characters"),
])
def test_product_code_data_structure_errors(args: tuple[str, str, str], fragment: str) -> None:
    with pytest.raises(InvalidCode, match=fragment):
        product_code_data_structure(*args)


def test_collection_type_mapping() -> None:
    assert COLLECTION_TYPE == {"allogeneic_unrelated": "V", "allogeneic_related": "D",
                               "autologous": "1", "unspecified": "0"}


def test_label_payload() -> None:
    assert label_payload("G123417654321", "S1001", "V", "00") == "=G12341765432170=<S1001V00"
    assert label_payload("G123498654321", "S1002", "autologous", "Ab") == (
        "=G12349865432177=<S10021Ab")


# --- product types ---------------------------------------------------------------------------

KINDS = {"bone_marrow", "cord_blood", "lipoaspirate", "mnc", "svf", "msc_marrow", "msc_adipose",
         "msc_cord", "hsc_cd34", "ipsc", "plasma", "red_cells", "qc_sample", "maternal_sample"}


def test_product_table_covers_exactly_our_kinds_with_distinct_codes() -> None:
    assert set(PRODUCT_TYPES) == KINDS
    codes = [p.code for p in PRODUCT_TYPES.values()]
    assert len(set(codes)) == len(codes)
    for kind, p in PRODUCT_TYPES.items():
        assert p.kind == kind
        assert len(p.code) == 5 and p.code[0] == "S" and p.code[1:].isdigit(), p


@pytest.mark.parametrize(("kind", "class_name", "published"), [
    ("bone_marrow", "HPC, Marrow", True),
    ("cord_blood", "HPC, Cord Blood", True),
    ("hsc_cd34", "HPC, CD34 enriched", True),
    ("msc_marrow", "MSC(M)", True),
    ("msc_adipose", "MSC(AT)", True),
    ("msc_cord", "MSC(CB)", True),
    ("ipsc", "iPSC line", False),
    ("qc_sample", "QC sample", False),
    ("maternal_sample", "Maternal sample", False),
])
def test_product_type_lookup(kind: str, class_name: str, published: bool) -> None:
    p = product_type(kind)
    assert (p.class_name, p.isbt_published) == (class_name, published)


def test_product_type_unknown_and_frozen() -> None:
    with pytest.raises(InvalidCode, match="Unknown sample kind 'blood'"):
        product_type("blood")
    with pytest.raises(dataclasses.FrozenInstanceError):
        product_type("mnc").code = "S0000"  # type: ignore[misc]
    assert isinstance(product_type("mnc"), ProductType)


# --- divisions -------------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "code"), [(0, "00"), (1, "A0"), (2, "B0"), (26, "Z0")])
def test_division_code(index: int, code: str) -> None:
    assert division_code(index) == code


@pytest.mark.parametrize("index", [-1, 27, True])
def test_division_code_out_of_range(index: int) -> None:
    with pytest.raises(InvalidCode):
        division_code(index)


@pytest.mark.parametrize(("parent", "index", "code"), [
    ("A0", 1, "Aa"), ("A0", 2, "Ab"), ("A0", 26, "Az"), ("Z0", 1, "Za"), ("c0", 3, "Cc"),
])
def test_sub_division(parent: str, index: int, code: str) -> None:
    assert sub_division(parent, index) == code


@pytest.mark.parametrize(("parent", "index", "fragment"), [
    ("A0", 0, "out of range"),
    ("A0", 27, "out of range"),
    ("Aa", 1, "two levels"),
    ("00", 1, "undivided"),
    ("AA", 1, "Caps Lock"),
    ("A", 1, "must be 2 characters"),
])
def test_sub_division_errors(parent: str, index: int, fragment: str) -> None:
    with pytest.raises(InvalidCode, match=fragment):
        sub_division(parent, index)


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("d", "code"), [
    (date(2026, 2, 1), "026032"),
    (date(2024, 12, 31), "024366"),  # leap year, day 366
    (date(2000, 2, 29), "000060"),
    (date(1999, 1, 1), "999001"),
    (date(2100, 3, 1), "100060"),  # 2100 is not a leap year
    (date(2026, 1, 1), "026001"),
])
def test_isbt_date_round_trip(d: date, code: str) -> None:
    assert isbt_date(d) == code
    assert parse_isbt_date(code) == d


@pytest.mark.parametrize("code", ["025366", "026000", "026367", "02603", "02603a", "", "0260321"])
def test_parse_isbt_date_errors(code: str) -> None:
    with pytest.raises(InvalidCode):
        parse_isbt_date(code)


@pytest.mark.parametrize("d", [date(1899, 12, 31), date(2900, 1, 1)])
def test_isbt_date_out_of_range(d: date) -> None:
    with pytest.raises(InvalidCode):
        isbt_date(d)


# --- scanner ---------------------------------------------------------------------------------

FULL = ScannedCode("G123417654321", "A", "S1001", "V", "00")
DIN_ONLY = ScannedCode("G123417654321", "A", None, None, None)


@pytest.mark.parametrize("raw", [
    "=G12341765432170=<S1001V00",
    "=G12341765432170=<S1001V00\r\n",
    "=G12341765432170=<S1001V00\n",
    "=G12341765432170=<S1001V00\r",
    "\t=G12341765432170=<S1001V00\t",
    "  =G12341765432170=<S1001V00  ",
    "]Q1=G12341765432170=<S1001V00",
    "]Q6=G12341765432170=<S1001V00\r\n",
    "]d1=G12341765432170=<S1001V00",
    "]d2=G12341765432170=<S1001V00",
    "]d6=G12341765432170=<S1001V00",
    "]C0=G12341765432170=<S1001V00",
    "]C1=G12341765432170=<S1001V00",
    "]q1=g12341765432170=<s1001v00",  # Caps Lock flips a wedge scanner's case
    "=g12341765432170=<s1001v00",
])
def test_parse_full_payload(raw: str) -> None:
    assert parse_scan(raw) == FULL


@pytest.mark.parametrize(("raw", "division"), [
    ("=G12341765432170=<S1001VAa", "Aa"),
    ("=G12341765432170=<S1001VZz", "Zz"),
    ("=G12341765432170=<S1001VB0", "B0"),
    ("=g12341765432170=<s1001vaa", "Aa"),  # first division char is always a capital
])
def test_parse_division_keeps_second_char_case(raw: str, division: str) -> None:
    assert parse_scan(raw).division == division


def test_parse_other_collection_type() -> None:
    code = parse_scan("]d2=G12349865432177=<S10021Ab\r\n")
    assert code == ScannedCode("G123498654321", "H", "S1002", "1", "Ab")


@pytest.mark.parametrize("raw", [
    "=G12341765432170",
    "=G12341765432100",  # flags 00: not type 3, accepted without check
    "]C0=G12341765432170\r\n",
    "=g12341765432170",
    "G123417654321A",
    "g123417654321a",
    "G1234 17 654321 A",
    "G1234 17 654321A",
    "  G1234 17 654321 A\r\n",
    "]Q1G123417654321A",
])
def test_parse_din_only_forms(raw: str) -> None:
    assert parse_scan(raw) == DIN_ONLY


def test_parse_star_check_character() -> None:
    assert parse_scan("A0000 00 000000 *") == ScannedCode("A000000000000", "*", None, None, None)


@pytest.mark.parametrize(("raw", "expected"), [
    ("G123417654321B", "should be A, not B"),
    ("G1234 17 654321 H", "should be A, not H"),
    ("G123498654321A", "should be H, not A"),  # the other published vector
])
def test_mistyped_check_character_is_refused(raw: str, expected: str) -> None:
    with pytest.raises(InvalidCode, match=expected):
        parse_scan(raw)


def test_type_3_flags_mismatch_is_refused() -> None:
    with pytest.raises(InvalidCode, match="should be 70"):
        parse_scan("=G12341765432171")
    with pytest.raises(InvalidCode, match="should be 70"):
        parse_scan("=G12341765432177=<S1001V00")


@pytest.mark.parametrize("raw", ["G123417654321", "G1234 17 654321", "g123417654321\r\n"])
def test_din_without_check_character_is_refused(raw: str) -> None:
    with pytest.raises(InvalidCode, match="without its check character"):
        parse_scan(raw)


@pytest.mark.parametrize(("raw", "fragment"), [
    ("=G12341765432170=<S1001VAA", "Caps Lock"),
    ("=G12341765432170=<S1001V0a", "Division"),
    ("=G12341765432170=<S1001X00", "Collection type"),
    ("=G12341765432170=<SX001V00", "Product code"),
])
def test_bad_product_part_is_refused(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidCode, match=fragment):
        parse_scan(raw)


@pytest.mark.parametrize(("raw", "fragment"), [
    ("", "nothing was received"),
    ("   \r\n", "nothing was received"),
    ("]Q1\r\n", "nothing was received"),
    ("https://lims.example.org/samples/123", "web address"),
    ("www.example.org", "web address"),
    ("=<S1001V00", "product code only"),
    ("=G1234176543217", "neither a DIN code"),
    ("=G12341765432170=<S1001V0", "neither a DIN code"),
    ("=G12341765432170=<S1001V00X", "neither a DIN code"),
    ("=G12341765432170 <S1001V00", "neither a DIN code"),
    ("=G1234176543#170", "cannot have"),
    ("hello", "not an ISBT 128 label code"),
    ("G1234-17-654321-A", "not an ISBT 128 label code"),
    ("G123417654321AB", "not an ISBT 128 label code"),
    ("G12341765432\u00e9A", "not an ISBT 128 label code"),
    ("O123417654321A", "never O or 0"),
])
def test_garbage_is_refused(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidCode, match=fragment):
        parse_scan(raw)


def test_invalid_code_is_a_value_error() -> None:
    assert issubclass(InvalidCode, ValueError)
