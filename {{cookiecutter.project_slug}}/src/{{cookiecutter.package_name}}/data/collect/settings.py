"""Collect settings, from the environment or `.env` (see .env.example).

Politeness and limits live here; what is collected (SOURCE, NAME, KIND, ...) comes from
the command line or collect.yaml.
"""

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ...config import PROJECT, load


class CollectSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Seconds between two requests to the site (robots.txt's Crawl-delay wins when longer).
    collect_delay_s: float = Field(1.0, ge=0, allow_inf_nan=False)
    # Who a site owner can write to about your crawler: it goes in the User-Agent.
    collect_contact: str = {{ cookiecutter.author_email | tojson }}
    collect_timeout_s: float = Field(30.0, gt=0, allow_inf_nan=False)
    # Retries of one request after a 429, 5xx, timeout or dropped connection.
    collect_retries: int = Field(4, ge=0)
    # The longest Retry-After the collector waits; a site that asks for more is tried later.
    collect_max_wait_s: float = Field(300.0, ge=0, allow_inf_nan=False)
    max_pages: int = Field(100, ge=1)
    # One response larger than this is refused (it is read as it arrives, never whole).
    collect_max_bytes: int = Field(50_000_000, ge=1)
    # Fetched pages are kept this long so a re-run during development asks the site nothing.
    # 0: no cache (a scheduled run that must see new data).
    collect_cache_ttl_s: float = Field(3600.0, ge=0, allow_inf_nan=False)
    collect_cache: Path = Path("build/collect/http-cache.sqlite")
    collect_dir: Path = Path("data/collected")
    collect_config: Path = Path("collect.yaml")

    @field_validator("collect_contact")
    @classmethod
    def a_real_contact(cls, value: str) -> str:
        value = value.strip()
        if not value or value.endswith("@example.com"):
            raise ValueError(
                f"{value or 'empty'} is no contact: set COLLECT_CONTACT to an e-mail or URL "
                "where a site owner can reach you (it goes in the User-Agent)"
            )
        return value

    @property
    def user_agent(self) -> str:
        return f"{PROJECT}-collect/0.1 (+{self.collect_contact})"


def load_collect_settings(**overrides) -> CollectSettings:
    """Settings, or SettingsProblem: one line per problem (the same shape as training's)."""
    return load(CollectSettings, **overrides)
