"""What each event takes and does, for forms and integrators: the declarations live in
the rows of `lims.domain.workflow.TRANSITIONS`; this module only names the readers."""

from lims.domain.eventdata import DataField
from lims.domain.workflow import EFFECTS, TRANSITIONS, Changes, check_data, choices_for, fields_of

__all__ = ["DataField", "EFFECTS", "TRANSITIONS", "Changes", "check_data", "choices_for",
           "fields_of"]
