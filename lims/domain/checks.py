"""What a service checks of its arguments before it touches anything.

Pydantic checks what arrives over HTTP, but the CLI, the demo, a CSV import and the pages
call the services directly. `@checked` makes every such caller meet the same three rules,
read from the function's own annotations, and answer with a domain error (never a
TypeError deep inside):

- a `datetime` must carry its time zone (a naive time is ambiguous by hours);
- a number must be finite, and inside its `Range` where the annotation gives one;
- a word must come from its `OneOf` list (for a list of words: each of them).
"""

from __future__ import annotations

import inspect
import math
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Annotated, Any, ParamSpec, TypeVar, Union, get_args, get_origin, get_type_hints

from lims.domain import sources, vocabulary
from lims.domain.errors import Invalid
from lims.domain.states import Role, Use

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of a number a person could really have meant."""

    low: float
    high: float
    unit: str = ""


@dataclass(frozen=True)
class OneOf:
    """The closed list of words a parameter takes."""

    values: tuple[str, ...]

    def __init__(self, values: Iterable[str]) -> None:
        object.__setattr__(self, "values", tuple(str(v) for v in values))


def _words(name: str) -> str:
    return name.replace("_", " ")


def _plain(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """(the type without Optional, the Annotated markers)."""
    markers: tuple[Any, ...] = ()
    if get_origin(annotation) is Annotated:
        annotation, *rest = get_args(annotation)
        markers = tuple(rest)
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            inner, more = _plain(args[0])
            return inner, markers + more
    return annotation, markers


def check(name: str, annotation: Any, value: Any) -> None:
    """Raise Invalid when `value` breaks what `annotation` promises."""
    if value is None:
        return
    kind, markers = _plain(annotation)
    if kind is datetime and not isinstance(value, datetime):
        raise Invalid(f"The {_words(name)} must be a date and time.", field=name)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise Invalid(f"The {_words(name)} must include its time zone "
                          "(e.g. 2026-12-01T09:30:00+01:00).", field=name)
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid(f"The {_words(name)} must be a number.", field=name)
        for m in markers:
            if isinstance(m, Range) and not m.low <= value <= m.high:
                unit = f" {m.unit}" if m.unit else ""
                raise Invalid(f"The {_words(name)} must be between {m.low:g} and "
                              f"{m.high:g}{unit}; {value:g} was given.", field=name)
    for m in markers:
        if isinstance(m, OneOf):
            if not isinstance(value, str | list | tuple | set | frozenset):
                raise Invalid(f"The {_words(name)} must be one of {', '.join(m.values)}.",
                              field=name)
            given = [value] if isinstance(value, str) else list(value)
            bad = [v for v in given if v not in m.values]
            if bad:
                raise Invalid(f"Unknown {_words(name)} '{bad[0]}': choose from "
                              f"{', '.join(m.values)}.", field=name)


def checked(fn: Callable[P, R]) -> Callable[P, R]:
    """Check the arguments of `fn` against its annotations before it runs."""
    signature = inspect.signature(fn)
    hints: dict[str, Any] = {}

    @wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if not hints:  # resolved on first call: the annotations are strings until then
            hints.update(get_type_hints(fn, include_extras=True))
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise Invalid(f"{fn.__name__}: {exc}") from None
        for name, value in bound.arguments.items():
            if name in hints:
                check(name, hints[name], value)
        return fn(*args, **kwargs)

    return run


# The argument types the services share, each with the range or list a lab would accept.

Volume = Annotated[float, Range(0.01, 5000, "mL")]
Temperature = Annotated[float, Range(-200, 60, "°C")]
Count = Annotated[int, Range(1, 100)]
GridSize = Annotated[int, Range(1, 26)]
Version = Annotated[int, Range(1, 2**31 - 1)]
PageSize = Annotated[int, Range(1, 500)]
# The event feed is read in bulk by machines catching up.
FeedPage = Annotated[int, Range(1, 1000)]
SourceName = Annotated[str, OneOf(sources.Source)]
KindName = Annotated[str, OneOf(sources.KINDS)]
DonorType = Annotated[str, OneOf(vocabulary.DONOR_TYPES)]
Eligibility = Annotated[str, OneOf(vocabulary.ELIGIBILITY)]
BloodGroup = Annotated[str, OneOf(vocabulary.ABO_RH)]
QcOutcome = Annotated[str, OneOf(vocabulary.QC_RESULTS)]
LocationKind = Annotated[str, OneOf(vocabulary.LOCATION_PARENT)]
Scopes = Annotated[Sequence[str], OneOf(Use)]
Roles = Annotated[Sequence[str], OneOf(Role)]
# What an API key of a service account may do: read, or read and write.
KeyScopes = Annotated[Sequence[str], OneOf(("read", "write"))]
