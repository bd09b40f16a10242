"""The warnings a tube carries, decided once for the scan card and for the label.

The card has room for a sentence; the label has room for a word (21 CFR 1271.65, .90,
.370: autologous use, biohazard, quarantine). Pure: the facts come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    card: str  # what the bench screen says
    label: str | None  # what the printed label says, if it belongs on a label at all


@dataclass(frozen=True)
class TubeFacts:
    autologous: bool
    eligibility: str
    on_hold: bool
    hold_reason: str | None
    overdue: bool
    expired: bool
    withdrawn_scopes: tuple[str, ...]
    has_active_consent: bool
    open_excursion: bool


def flags(f: TubeFacts) -> list[Flag]:
    out = []
    if f.autologous:
        out.append(Flag("FOR AUTOLOGOUS USE ONLY", "FOR AUTOLOGOUS USE ONLY"))
    if f.eligibility == "ineligible":
        out.append(Flag("BIOHAZARD: donor not eligible", "BIOHAZARD"))
    elif f.eligibility == "pending":
        # 1271.60: material of a donor whose eligibility is not determined is quarantined.
        out.append(Flag("Donor eligibility pending: quarantine",
                        None if f.on_hold else "QUARANTINE"))
    if f.on_hold:
        out.append(Flag(f"QUARANTINE (on hold): {f.hold_reason or 'no reason given'}",
                        "QUARANTINE"))
    if f.overdue:
        out.append(Flag("OVERDUE: the processing window has closed", None))
    if f.expired:
        out.append(Flag("EXPIRED", None))
    if f.withdrawn_scopes:
        out.append(Flag(f"CONSENT WITHDRAWN for {', '.join(f.withdrawn_scopes)} use", None))
        out += [Flag(f"Not for {s} use", f"NOT FOR {s.upper()} USE")
                for s in f.withdrawn_scopes]
    if not f.has_active_consent:
        out.append(Flag("NO ACTIVE CONSENT", None))
    if f.open_excursion:
        out.append(Flag("TEMPERATURE EXCURSION awaiting QA review", None))
    return out


def card_lines(f: TubeFacts) -> list[str]:
    return [x.card for x in flags(f)]


def label_words(f: TubeFacts) -> tuple[str, ...]:
    return tuple(x.label for x in flags(f) if x.label)
