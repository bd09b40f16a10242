"""Demo history on a realistic clock: each scenario starts some days back and its steps
happen hours or days apart, so timelines and trace reports read like a lab's week (a
marrow processed 52 h after collection shows 52 hours between the two, not one minute).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from lims.services.context import Context


@dataclass(frozen=True)
class Story:
    """One scenario's clock: ``start`` plus hours; never later than the real ``now``."""

    now: datetime
    start: datetime

    @classmethod
    def days_ago(cls, now: datetime, days: float, hour: int = 9) -> Story:
        """A story that began ``days`` before ``now`` at ``hour`` UTC (a working morning)."""
        day = now - timedelta(days=days)
        return cls(now, day.replace(hour=hour, minute=0, second=0, microsecond=0))

    def time(self, hours: float) -> datetime:
        when = self.start + timedelta(hours=hours)
        if when > self.now:
            raise ValueError(f"demo step {hours} h after {self.start} is in the future")
        return when

    def at(self, ctx: Context, hours: float) -> Context:
        """The same person and transaction, acting ``hours`` after the start."""
        return replace(ctx, now=self.time(hours))
