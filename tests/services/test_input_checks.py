"""Every public service function refuses bad arguments with a domain error.

The CLI, the demo, a CSV import and the pages call the services without Pydantic in
front. The functions are enumerated from lims/services, so a new one cannot slip past;
what counts as bad is written out here, as a lab's SOP would state it, not read back
from the annotations under test.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import typing
from datetime import datetime

import pytest

import lims.services
from lims.domain.errors import Invalid

NAIVE = datetime(2026, 12, 1, 9, 30)  # no time zone: 09:30 where?

# Per parameter name: values no lab record can hold.
BAD: dict[str, list[object]] = {
    "volume_ml": [0, -5.0, 6000.0, math.nan, math.inf],  # a tube or bag holds 0.01-5000 mL
    "temperature_c": [-300.0, 120.0, math.nan],  # below absolute zero, above boiling
    "min_temp_c": [-300.0, math.nan],
    "max_temp_c": [120.0, math.inf],
    "count": [0, 101],  # one derivation makes 1 to 100 tubes
    "rows": [0, 27],  # a box has 1 to 26 rows (A to Z)
    "cols": [0, 27],
    "limit": [0, 1001],  # a page holds 1 to 500 rows (the event feed: 1,000)
    "expected_version": [0, -1],  # versions start at 1
    "value": [math.nan, math.inf],  # a QC value is a number
    "source": ["spleen"],  # harvests: bone marrow, adipose tissue, cord blood (+ apheresis)
    "kind": ["whole_blood_mystery"],
    "donor_type": ["xenogeneic"],
    "eligibility": ["maybe"],
    "result": ["positive-ish"],
    "scopes": [["cosmetic"]],  # consent: clinical, research, banking...; keys: read, write
    "roles": [["superuser"]],
}

# Plausible values for the other parameters, so that only the one under test is wrong.
VALID: dict[str, object] = {
    "source": "bone_marrow", "kind": "mnc", "donor_type": "allogeneic",
    "eligibility": "eligible", "result": "pass", "scopes": ["clinical"],
    "roles": ["technician"],
}
VALID_FOR = {"custody.add_location": {"kind": "box"}, "users.create_api_key": {"scopes": ["read"]}}


def _public_functions():
    for info in pkgutil.iter_modules(lims.services.__path__):
        module = importlib.import_module(f"lims.services.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and fn.__module__ == module.__name__:
                yield f"{info.name}.{name}", fn


FUNCTIONS = dict(_public_functions())


def _kind(fn, name):
    hint = typing.get_type_hints(fn).get(name)
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return args[0]


def _cases():
    for qualname, fn in FUNCTIONS.items():
        for name in inspect.signature(fn).parameters:
            if name in BAD and _kind(fn, name) is not typing.Any:
                for value in BAD[name]:
                    yield pytest.param(qualname, name, value, id=f"{qualname}-{name}={value!r}")
            elif _kind(fn, name) is datetime:
                yield pytest.param(qualname, name, NAIVE, id=f"{qualname}-{name}=naive")
            elif _kind(fn, name) is float:
                yield pytest.param(qualname, name, math.nan, id=f"{qualname}-{name}=nan")


CASES = list(_cases())


def test_the_enumeration_finds_the_service_functions():
    # Sanity of the enumeration itself: these must be among what is checked.
    ids = {c.id.split("-")[0] for c in CASES}
    assert {"collections.create_collection", "custody.hand_over", "donors.add_consent",
            "samples.derive", "samples.apply_event", "users.add_user", "qc.record_qc",
            "custody.add_location", "audit.entries_page"} <= ids
    assert len(CASES) > 40


@pytest.mark.parametrize(("qualname", "param", "value"), CASES)
def test_bad_argument_is_a_domain_error_naming_it(qualname, param, value):
    fn = FUNCTIONS[qualname]
    # Everything else is a placeholder: the check must come before the function uses any
    # of it (so no database, no actor, no record is touched by a refused call).
    valid = {**VALID, **VALID_FOR.get(qualname, {})}
    aware = datetime.fromisoformat("2026-12-01T09:30:00+01:00")
    args = {name: aware if _kind(fn, name) is datetime else valid.get(name, object())
            for name, p in inspect.signature(fn).parameters.items()
            if p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    args[param] = value
    with pytest.raises(Invalid) as refused:
        fn(**args)
    assert refused.value.extra.get("field") == param
    assert param.replace("_", " ") in refused.value.detail


def test_aware_times_and_plausible_values_pass_the_checks():
    from lims.domain.checks import Range, check

    check("started_at", datetime, datetime.fromisoformat("2026-12-01T09:30:00+01:00"))
    check("volume_ml", typing.Annotated[float, Range(0.01, 5000)], 250.0)
    check("volume_ml", typing.Annotated[float, Range(0.01, 5000)], 5000)
