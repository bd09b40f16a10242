"""Settings from environment variables `LIMS_*` (read when asked, never at import)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIMS_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/lims.db"
    # ISBT 128 facility identification number (FIN): assigned by ICCBBA to each facility.
    facility_id: str = "W9999"
    # Hours from the end of collection within which processing must start.
    window_bone_marrow_hours: int = Field(48, gt=0)
    window_cord_blood_hours: int = Field(48, gt=0)
    window_adipose_tissue_hours: int = Field(24, gt=0)
    timezone: str = "Europe/Berlin"
    # Printed on bag labels (two lines at most) and trace reports.
    facility_name: str = Field("Demo Stem Cell Laboratory", min_length=1, max_length=80)
    # Thawed cells lose viability: administer within this many hours of thawing.
    # The bedside check that allows an administration must be this recent.
    bedside_check_minutes: int = Field(10, gt=0)
    # Bearer tokens for people expire; service accounts use API keys instead.
    token_hours: int = Field(12, gt=0)
    failed_login_limit: int = Field(5, gt=0)
    lockout_minutes: int = Field(15, gt=0)
    # Webhook delivery (`lims worker`): a receiver that does not answer 2xx within the
    # timeout is tried again after base, 2 x base, 4 x base ... seconds (at most max, with
    # jitter); a delivery gives up after `webhook_max_attempts`; a subscription whose last
    # `webhook_disable_after` attempts all failed is disabled until someone enables it.
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_backoff_base_seconds: float = Field(10.0, gt=0)
    webhook_backoff_max_seconds: float = Field(3600.0, gt=0)
    webhook_max_attempts: int = Field(12, gt=0)
    webhook_disable_after: int = Field(20, gt=0)
    # How long an idle worker waits before looking for new events again.
    worker_poll_seconds: float = Field(1.0, gt=0)
    worker_batch: int = Field(20, gt=0, le=1000)
    # Failed sign-ins from one client address (over all user names) within
    # lockout_minutes before that address must wait: guessing across many accounts.
    failed_login_limit_per_address: int = Field(20, gt=0)
    # Largest request body accepted (bytes); the biggest real one, a batch of 96 scans
    # with its data, is a few tens of kilobytes.
    max_body_bytes: int = Field(1_000_000, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone: refuse to start rather than mis-stamp
        return value

    def processing_windows(self) -> dict[str, int]:
        """Processing window in hours per collection source."""
        return {
            "bone_marrow": self.window_bone_marrow_hours,
            "cord_blood": self.window_cord_blood_hours,
            "adipose_tissue": self.window_adipose_tissue_hours,
        }

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@lru_cache
def get_settings() -> Settings:
    return Settings()
