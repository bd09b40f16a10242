"""Label templates: sizes, symbols, text regions and how each field gives way (data in labels/).

A template is TOML data. Each field says, in order, how it gives way when space runs out:
``shrink`` (smaller type, down to its ``min_pt`` and never below the legibility floor),
``abbreviate`` (standard abbreviations, labels/_abbreviations.toml), ``wrap`` (more lines)
and ``accompany`` (move to the accompanying label that travels with the container).
A field marked ``keep`` may never leave the label: the identifier, the product and the
warnings that stop use are always ``keep``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

# Every field a template can place; "text" is fixed text from the template itself.
FIELD_KINDS = ("identifier", "product", "product_code", "attributes", "volume", "donor_code",
               "collection_date", "expiry", "storage", "facility", "abo_rh", "recipient",
               "statements", "warnings", "text")
# ISBT 128 ST-004 / DOMAIN.md: never dropped from a container (small containers included).
NEVER_DROPPED = frozenset({"identifier", "product", "product_code", "warnings"})
# What a bag (base) label must place, on top of what every container carries.
BAG_FIELDS = frozenset({"donor_code", "collection_date", "expiry", "volume", "storage",
                        "facility", "abo_rh", "recipient", "statements", "attributes"})
LIST_FIELDS = frozenset({"attributes", "statements", "warnings"})
GIVE_WAY = ("shrink", "abbreviate", "wrap", "accompany")
ROLES = ("container", "accompanying")
KINDS = ("small", "bag")
LINEAR_DATA = ("din", "product", "expiry")
ZPL_DOTS_PER_MM = {203: 8, 300: 12, 600: 24}
# Legibility floor: 4 pt type is 1.4 mm high, about 17 dots at 300 dpi; below that thermal
# printers fill in the counters of small letters.
FLOOR_PT = 4.0
SHRINK_STEP_PT = 0.5
MIN_MODULE_DOTS = 2
LINEAR_QUIET_MODULES = 10  # Code 128: at least 10 X each side


@dataclass(frozen=True)
class CodeSpec:
    """Square area reserved for the 2-D code, quiet zone included."""

    x_mm: float
    y_mm: float
    size_mm: float
    quiet_zone_modules: int = 4


@dataclass(frozen=True)
class LinearSpec:
    """A Code 128 symbol of one ISBT data structure; the box includes the quiet zones."""

    data: str  # din | product | expiry
    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float
    module_mm: float = 0.25  # X dimension; ISBT 128 asks for 0.17 to 0.27 mm (nominal 0.25)

    def module_dots(self, dpi: int) -> int:
        """Whole printer dots per module, as close to ``module_mm`` as the printer allows."""
        return max(MIN_MODULE_DOTS, round(self.module_mm * dpi / 25.4))

    def box(self) -> tuple[float, float, float, float]:
        return (self.x_mm, self.y_mm, self.width_mm, self.height_mm)


@dataclass(frozen=True)
class RegionSpec:
    """A box that fields flow into, top to bottom, in the order the template lists them."""

    name: str
    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float

    def box(self) -> tuple[float, float, float, float]:
        return (self.x_mm, self.y_mm, self.width_mm, self.height_mm)


@dataclass(frozen=True)
class FieldSpec:
    """One field: its region, type size, and how it gives way when space runs out."""

    field: str
    region: str
    size_pt: float
    priority: int  # 1 = most important; the highest number gives way first
    min_pt: float | None = None  # floor for "shrink" (default: the legibility floor)
    give_way: tuple[str, ...] = ()
    keep: bool = False  # may never move off this label
    max_lines: int = 1  # with "wrap": at most this many lines
    bold: bool = False
    band: bool = False  # white text on a black band (warnings)
    boxed: bool = False  # a frame around the field (the ABO/Rh box)
    prefix: str = ""
    text: str = ""  # the fixed text of a "text" field
    flags: bool = False  # identifier: print the DIN flags after the DIN
    inline: bool = False  # on the previous field's line when both are one line and fit

    @property
    def floor_pt(self) -> float:
        if "shrink" not in self.give_way:
            return self.size_pt
        return max(FLOOR_PT, self.min_pt if self.min_pt is not None else FLOOR_PT)


@dataclass(frozen=True)
class LabelTemplate:
    """A parsed, validated label template (see labels/*.toml)."""

    name: str
    title: str
    width_mm: float
    height_mm: float
    dpi: int
    regions: tuple[RegionSpec, ...]
    fields: tuple[FieldSpec, ...]
    code: CodeSpec | None = None
    linear: tuple[LinearSpec, ...] = ()
    role: str = "container"
    kind: str = "small"
    accompanying: str | None = None  # template for what moves off this label
    # The accompanying template itself, resolved by load_templates.
    companion: LabelTemplate | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            _check_template(self)
        except ValueError as e:
            raise ValueError(f"template {self.name!r}: {e}") from None

    def region(self, name: str) -> RegionSpec:
        return next(r for r in self.regions if r.name == name)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _check_field(f: FieldSpec, t: LabelTemplate) -> None:
    if f.field not in FIELD_KINDS:
        raise ValueError(f"unknown field {f.field!r}; use one of {list(FIELD_KINDS)}")
    if f.region not in {r.name for r in t.regions}:
        raise ValueError(f"{f.field}: unknown region {f.region!r}")
    bad = [g for g in f.give_way if g not in GIVE_WAY]
    if bad or len(set(f.give_way)) != len(f.give_way):
        raise ValueError(f"{f.field}: give_way {list(f.give_way)}: use each of "
                         f"{list(GIVE_WAY)} at most once")
    if f.size_pt < FLOOR_PT or f.floor_pt > f.size_pt \
            or (f.min_pt is not None and f.min_pt < FLOOR_PT):
        raise ValueError(f"{f.field}: size_pt {f.size_pt} and min_pt must be at least the "
                         f"legibility floor {FLOOR_PT} pt, and min_pt no more than size_pt")
    if not isinstance(f.priority, int) or f.priority < 1:
        raise ValueError(f"{f.field}: priority must be a whole number from 1")
    if not isinstance(f.max_lines, int) or f.max_lines < 1 \
            or (f.max_lines > 1 and "wrap" not in f.give_way):
        raise ValueError(f"{f.field}: max_lines > 1 needs 'wrap' in give_way")
    if f.field in NEVER_DROPPED and not f.keep and t.role == "container":
        raise ValueError(f"{f.field} may never be dropped: mark it keep = true")
    if f.keep and "accompany" in f.give_way:
        raise ValueError(f"{f.field} is keep = true and cannot move to the accompanying label")
    if "accompany" in f.give_way and not t.accompanying:
        raise ValueError(f"{f.field} gives way to an accompanying label, but the template "
                         "names no accompanying template")
    if (f.field == "text") != bool(f.text):
        raise ValueError(f"{f.field}: only a 'text' field has text, and it needs some")


def _check_template(t: LabelTemplate) -> None:
    if t.dpi not in ZPL_DOTS_PER_MM:
        raise ValueError(f"dpi {t.dpi} not one of {sorted(ZPL_DOTS_PER_MM)}")
    if t.width_mm <= 0 or t.height_mm <= 0:
        raise ValueError("width_mm and height_mm must be positive")
    if t.role not in ROLES or t.kind not in KINDS:
        raise ValueError(f"role must be one of {list(ROLES)} and kind one of {list(KINDS)}")
    boxes: list[tuple[str, tuple[float, float, float, float]]] = []

    def place(what: str, box: tuple[float, float, float, float]) -> None:
        x, y, w, h = box
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > t.width_mm + 1e-9 \
                or y + h > t.height_mm + 1e-9:
            raise ValueError(f"{what} ({x}..{x + w:.2f} x {y}..{y + h:.2f} mm) is outside the "
                             f"{t.width_mm} x {t.height_mm} mm label")
        for other, ob in boxes:
            if _overlap(box, ob):
                raise ValueError(f"{what} overlaps {other}")
        boxes.append((what, box))

    c = t.code
    if c is not None:
        if not isinstance(c.quiet_zone_modules, int) or not 0 <= c.quiet_zone_modules <= 10:
            raise ValueError("quiet_zone_modules must be an integer 0..10")
        place("the code or its quiet zone", (c.x_mm, c.y_mm, c.size_mm, c.size_mm))
    elif t.role == "container":
        raise ValueError("a container label needs a [code] (the 2-D code)")
    for s in t.linear:
        if s.data not in LINEAR_DATA:
            raise ValueError(f"linear symbol data {s.data!r}: use one of {list(LINEAR_DATA)}")
        if not 0.17 <= s.module_mm <= 0.5:
            raise ValueError(f"linear {s.data}: module_mm must be 0.17 to 0.5 mm")
        place(f"the {s.data} Code 128 symbol", s.box())
    if len({s.data for s in t.linear}) != len(t.linear):
        raise ValueError("each linear symbol may appear once")
    if len({r.name for r in t.regions}) != len(t.regions):
        raise ValueError("region names must be unique")
    for r in t.regions:
        place(f"region {r.name}", r.box())
    kinds = [f.field for f in t.fields if f.field != "text"]
    if len(kinds) != len(set(kinds)):
        raise ValueError(f"fields {kinds}: each field at most once")
    need = set(NEVER_DROPPED) | (BAG_FIELDS if t.kind == "bag" else set())
    if t.role == "container" and not need <= set(kinds):
        raise ValueError(f"fields {kinds}: a {t.kind} label needs each of {sorted(need)}")
    if t.role == "container" and t.kind == "bag" and {s.data for s in t.linear} \
            != set(LINEAR_DATA):
        raise ValueError(f"a bag label carries Code 128 symbols for {list(LINEAR_DATA)}")
    if t.role == "accompanying" and not {"identifier", "product"} <= set(kinds):
        raise ValueError("an accompanying label names the same DIN and product")
    for f in t.fields:
        _check_field(f, t)


def _field(raw: dict[str, object]) -> FieldSpec:
    give_way = raw.get("give_way", ())
    if not isinstance(give_way, list | tuple):
        raise ValueError("give_way must be a list")
    return FieldSpec(**{**raw, "give_way": tuple(str(g) for g in give_way)})  # type: ignore[arg-type]


def load_template(path: Path) -> LabelTemplate:
    """Parse and validate one template file; errors name the file."""
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
        code = CodeSpec(**raw["code"]) if "code" in raw else None
        t = LabelTemplate(**raw | {
            "code": code,
            "regions": tuple(RegionSpec(**r) for r in raw["regions"]),
            "linear": tuple(LinearSpec(**s) for s in raw.get("linear", ())),
            "fields": tuple(_field(f) for f in raw["fields"])})
    except (tomllib.TOMLDecodeError, ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{path.name}: {type(e).__name__}: {e}") from e
    if t.name != path.stem:
        raise ValueError(f"{path.name}: name {t.name!r} must match the file name")
    return t


def load_templates(folder: Path) -> dict[str, LabelTemplate]:
    """All templates (``*.toml`` not starting with ``_``) in ``folder`` by name."""
    if not folder.is_dir():
        raise FileNotFoundError(f"label template folder {folder} not found")
    found = {p.stem: load_template(p) for p in sorted(folder.glob("*.toml"))
             if not p.name.startswith("_")}
    for name, t in list(found.items()):
        if not t.accompanying:
            continue
        a = found.get(t.accompanying)
        if a is None or a.role != "accompanying":
            raise ValueError(f"{t.name}.toml: accompanying template {t.accompanying!r} is "
                             "missing or is not role = \"accompanying\"")
        if (a.width_mm, a.height_mm, a.dpi) != (t.width_mm, t.height_mm, t.dpi):
            raise ValueError(f"{t.name}.toml: the accompanying label {a.name!r} must have the "
                             "same size and dpi (it is printed on the same roll)")
        found[name] = replace(t, companion=a)
    return found


def default_templates_dir() -> Path:
    """The repository's ``labels/`` folder."""
    return Path(__file__).resolve().parents[2] / "labels"


@lru_cache(maxsize=8)
def _abbreviations(folder: Path) -> tuple[tuple[str, str], ...]:
    path = folder / "_abbreviations.toml"
    raw = tomllib.loads(path.read_text("utf-8")) if path.exists() else {"abbreviations": {}}
    pairs = raw["abbreviations"]
    if not all(isinstance(k, str) and isinstance(v, str) and len(v) < len(k)
               for k, v in pairs.items()):
        raise ValueError(f"{path.name}: each abbreviation must be shorter text than its phrase")
    return tuple(sorted(pairs.items(), key=lambda kv: -len(kv[0])))  # longest phrase first


@lru_cache(maxsize=1)
def abbreviations() -> tuple[tuple[str, str], ...]:
    """(phrase, abbreviation) pairs from labels/_abbreviations.toml, longest phrase first."""
    return _abbreviations(default_templates_dir())


@lru_cache(maxsize=4096)
def abbreviate(text: str) -> str:
    """Replace each standard phrase with its abbreviation."""
    for phrase, short in abbreviations():
        text = text.replace(phrase, short)
    return text
