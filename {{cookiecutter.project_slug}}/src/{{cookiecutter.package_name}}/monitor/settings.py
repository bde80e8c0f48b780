"""Monitor settings, from the environment or `.env`, prefixed MONITOR_ (see .env.example)."""

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..config import renamed


class MonitorSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MONITOR_", env_file=".env", extra="ignore", frozen=True, populate_by_name=True
    )

    # A feature drifted when both hold: its PSI reaches psi_threshold (the size of the
    # shift: 0.1 moderate, 0.2 large) and the chi-squared test's p-value is below
    # p_value (the shift is not sampling noise).
    psi_threshold: float = Field(0.2, gt=0, allow_inf_nan=False)
    p_value: float = Field(0.01, gt=0, lt=1)
    # Fewer rows than this cannot tell drift from noise: the monitor refuses to judge.
    min_rows: int = Field(100, ge=10)
    # Compare the most recent rows; only these are held in memory (the plot over time
    # shows an even sample of as many rows over the whole log).
    rows: int = Field(5000, ge=10)
    # The same REPORTS_DIR as training's reports: one folder for every report.
    reports_dir: Path = Field(Path("reports"), validation_alias="REPORTS_DIR")
    _renamed = renamed("MONITOR_REPORTS_DIR", "REPORTS_DIR", "one folder holds every report")
    # Where a log fetched from the deployed host is copied to.
    fetched_dir: Path = Path("build/monitor/requests")

    @model_validator(mode="after")
    def rows_can_reach_min_rows(self) -> Self:
        if self.rows < self.min_rows:  # no log could ever be judged
            raise ValueError(
                f"MONITOR_ROWS ({self.rows}) is below MONITOR_MIN_ROWS ({self.min_rows}): "
                "raise MONITOR_ROWS or lower MONITOR_MIN_ROWS"
            )
        return self
