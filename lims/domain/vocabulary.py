"""The closed lists of words the records use. The services validate against them and the
database enforces them with CHECK constraints (migration 0005), so a direct write cannot
put a word in that the service would never have written."""

from __future__ import annotations

DONOR_TYPES = ("autologous", "allogeneic")
ELIGIBILITY = ("pending", "eligible", "ineligible")
QC_RESULTS = ("pass", "fail", "pending")
# ABO group and RhD type as the typing report and the ST-004 label state them.
ABO_RH = ("O Pos", "O Neg", "A Pos", "A Neg", "B Pos", "B Neg", "AB Pos", "AB Neg")
# Storage hierarchy: what each kind of location sits in.
LOCATION_PARENT: dict[str, str | None] = {
    "site": None, "storage_unit": "site", "rack": "storage_unit", "box": "rack",
}
