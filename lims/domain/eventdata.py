"""The data an event takes: declared fields, checked in one place for every caller.

Each row of the workflow table lists its `DataField`s. `validate()` turns what a caller
sent (JSON from the API, a page form, a CSV row, the CLI) into clean values or refuses it
with a message that names the field; the API schema, `GET /workflow` and the bench page
forms are generated from the same declarations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from lims.domain import clock
from lims.domain.errors import Invalid

FieldType = Literal["text", "number", "integer", "choice", "id", "datetime", "position",
                    "object"]


@dataclass(frozen=True)
class DataField:
    name: str
    type: FieldType
    label: str  # what a form shows next to the input
    required: bool = False
    unit: str | None = None
    choices: tuple[str, ...] = ()  # allowed values; empty: see `choices_by_source`
    # For fields whose allowed values depend on the sample's source (processing methods).
    choices_by_source: Mapping[str, tuple[str, ...]] | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 200
    refers_to: str | None = None  # for ids: what the id names (box, recipient, ...)
    sets: str | None = None  # the sample attribute this value is recorded in, if any
    default: Any = None

    def allowed(self, source: str | None) -> tuple[str, ...]:
        if self.choices_by_source is not None and source is not None:
            return self.choices_by_source.get(source, ())
        return self.choices


def _number(f: DataField, value: Any, integer: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"'{f.name}' must be a number" + (f" in {f.unit}." if f.unit else "."))
    try:
        number = float(value)
    except OverflowError:  # a JSON integer with hundreds of digits
        number = math.inf
    if not math.isfinite(number):
        raise Invalid(f"'{f.name}' must be a finite number.")
    if integer and number != int(number):
        raise Invalid(f"'{f.name}' must be a whole number.")
    low = f.minimum if f.minimum is not None else -math.inf
    high = f.maximum if f.maximum is not None else math.inf
    if not low <= number <= high:
        unit = f" {f.unit}" if f.unit else ""
        span = (f"from {low:g} to {high:g}{unit}" if math.isfinite(high)
                else f"of {low:g}{unit} or more")
        raise Invalid(f"'{f.name}' must be a number {span}.")
    return int(number) if integer else number


def leaves(value: Any) -> Iterable[Any]:
    """Every plain value inside nested JSON (objects and lists)."""
    if isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)
    else:
        yield value


def _one(f: DataField, value: Any, source: str | None) -> Any:
    if f.type in ("number", "integer", "position"):
        return _number(f, value, integer=f.type != "number")
    if f.type == "object":
        if not isinstance(value, dict):
            raise Invalid(f"'{f.name}' must be an object of names and values, e.g. "
                          '{"g_force": 400, "minutes": 30}.')
        if any(isinstance(v, float) and not math.isfinite(v) for v in leaves(value)):
            raise Invalid(f"'{f.name}' must not hold NaN or Infinity.")
        return value
    if not isinstance(value, str):
        raise Invalid(f"'{f.name}' must be text, e.g. an id or a name.")
    if "\x00" in value:
        raise Invalid(f"'{f.name}' must not contain a NUL character.")
    if f.type == "datetime":
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid(f"'{f.name}' must be a date and time with its zone, e.g. "
                          "2027-01-31T12:00:00+01:00.") from None
        return clock.plausible(when, f.name)
    if f.type == "choice":
        allowed = f.allowed(source)
        if value not in allowed and f.choices_by_source is not None and source and \
                value in f.choices:
            raise Invalid(f"'{value}' is not a validated {f.label.lower()} for "
                          f"{source.replace('_', ' ')}. Use one of: {', '.join(allowed)}.")
        if value not in allowed:
            raise Invalid(f"'{f.name}' cannot be '{value}'. Use one of: {', '.join(allowed)}.")
        return value
    if len(value) > f.max_length:
        raise Invalid(f"Keep '{f.name}' under {f.max_length} characters.")
    return value


def validate(event: str, fields: tuple[DataField, ...], data: Mapping[str, Any],
             source: str | None,
             elsewhere: Mapping[str, tuple[list[str], DataField]] | None = None
             ) -> dict[str, Any]:
    """Clean values for the declared fields; refuse unknown, missing or malformed ones.

    `elsewhere`: field name -> events that do take it, so a value sent to the wrong
    event is answered with where it belongs ("the volume is measured at ...").
    """
    known = {f.name: f for f in fields}
    unknown = sorted(set(data) - known.keys())
    if unknown:
        name = unknown[0]
        if name in (elsewhere or {}):
            at, other = (elsewhere or {})[name]
            verb = "measured" if other.unit else "given"
            raise Invalid(f"'{name}' is {verb} at {', '.join(at)}, not at '{event}'.",
                          allowed=sorted(known))
        takes = ", ".join(known) if known else "no data"
        raise Invalid(f"'{event}' does not take {', '.join(repr(u) for u in unknown)}; "
                      f"it takes {takes}.", allowed=sorted(known))
    clean: dict[str, Any] = {}
    for f in fields:
        value = data.get(f.name)
        if value is None or value == "":  # an empty form input means: not given
            if f.default is not None:
                clean[f.name] = f.default
            elif f.required:
                raise Invalid(f"'{event}' needs '{f.name}' ({f.label}).")
            continue
        clean[f.name] = _one(f, value, source)
    return clean
