"""Event forms built from the data fields each event declares (lims/domain/workflow.py),
and the translation of what a form posts back into the event's data. No form is written
per event: a new field in the table shows up on the bench page by itself."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from lims.domain import workflow
from lims.domain.errors import Invalid
from lims.domain.eventdata import DataField

PREFIX = "f."  # form inputs of event data are named f.<field name>
ROWS = string.ascii_uppercase


def well(position: int | None, cols: int | None) -> str:
    """Position 1..rows*cols as the lab writes it: A1, A2, ..., I9 (row letter, column)."""
    if position is None:
        return ""
    if not cols:
        return str(position)
    row, col = divmod(position - 1, cols)
    return f"{ROWS[row]}{col + 1}" if row < len(ROWS) else str(position)


def parse_well(text: str, cols: int | None, rows: int | None) -> int:
    """'B3' (or a plain number) to the position number the service stores."""
    text = text.strip().upper()
    if text.isdigit():
        return int(text)
    m = re.fullmatch(r"([A-Z])\s*(\d{1,2})", text)
    if not m or not cols:
        raise Invalid(f"Write the position as the box shows it, e.g. A1 or C7 (not '{text}').")
    row, col = ROWS.index(m.group(1)), int(m.group(2))
    if not (1 <= col <= cols) or (rows and row >= rows):
        last = f"{ROWS[(rows or 1) - 1]}{cols}"
        raise Invalid(f"Position {text} is not in this box: it goes from A1 to {last}.")
    return row * cols + col


@dataclass(frozen=True)
class Input:
    """One form control, ready for the template."""

    name: str
    label: str
    kind: str  # number | select | text | datetime | textarea | position
    required: bool
    unit: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    default: Any = None
    hint: str = ""


def inputs(event: str, source: str | None, *, boxes: list[tuple[str, str]],
           box_mode: bool = False) -> list[Input]:
    """The controls of an event's form, from its declared fields."""
    out = []
    for f in workflow.fields_of(event):
        name = PREFIX + f.name
        if f.type in ("number", "integer"):
            out.append(Input(name, f.label, "number", f.required, f.unit, minimum=f.minimum,
                             maximum=f.maximum, step="1" if f.type == "integer" else "any"))
        elif f.type == "choice":
            choices = workflow.choices_for(f, source)
            out.append(Input(name, f.label, "select", f.required, default=f.default,
                             options=tuple((c, c.replace("_", " ")) for c in choices)))
        elif f.type == "id" and f.refers_to == "box":
            out.append(Input(name, f.label, "select", f.required, options=tuple(boxes)))
        elif f.type == "position":
            if box_mode:  # the n-th tube scanned goes to the n-th position (the service)
                continue
            out.append(Input(name, f.label, "position", f.required,
                             hint="As written on the box, e.g. A1 or C7"))
        elif f.type == "datetime":
            out.append(Input(name, f.label, "datetime", f.required,
                             hint="In the lab's time zone"))
        elif f.type == "object":
            out.append(Input(name, f.label, "textarea", f.required,
                             hint="One per line: name = value, e.g. g_force = 400"))
        else:
            out.append(Input(name, f.label, "text", f.required, unit=f.unit))
    return out


def _object(f: DataField, text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise Invalid(f"{f.label}: write one 'name = value' per line (not '{line.strip()}').")
        v = value.strip()
        out[key.strip()] = float(v) if re.fullmatch(r"-?\d+(\.\d+)?", v) else v
    return out


def data_from_form(event: str, form: Mapping[str, Any], zone: ZoneInfo,
                   box_grid: Callable[[str], tuple[int | None, int | None]]) -> dict[str, Any]:
    """The event's data from posted form values; empty inputs are left out (not given).
    The service checks the values (eventdata.validate): here they only change type."""
    data: dict[str, Any] = {}
    fields = workflow.fields_of(event)
    for f in fields:
        raw = form.get(PREFIX + f.name)
        if raw is None or str(raw).strip() == "":
            continue
        text = str(raw).strip()
        if f.type in ("number", "integer"):
            try:
                number = float(text.replace(",", "."))
            except ValueError:
                raise Invalid(f"{f.label} must be a number.") from None
            data[f.name] = int(number) if f.type == "integer" and number.is_integer() else number
        elif f.type == "position":
            box = str(form.get(PREFIX + "box_id") or "")
            rows, cols = box_grid(box) if box else (None, None)
            data[f.name] = parse_well(text, cols, rows)
        elif f.type == "datetime":
            when = datetime.fromisoformat(text)
            data[f.name] = (when if when.tzinfo else when.replace(tzinfo=zone)).isoformat()
        elif f.type == "object":
            data[f.name] = _object(f, text)
        else:
            data[f.name] = text
    return data
