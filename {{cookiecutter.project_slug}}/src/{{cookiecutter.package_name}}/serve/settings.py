"""Service settings, from the environment or `.env` (see .env.example)."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..config import PROJECT

# Values people paste from tutorials: refusing them beats running with a guessable key.
PLACEHOLDER_KEYS = {
    "changeme",
    "change-me",
    "secret",
    "password",
    "apikey",
    "api-key",
    "test",
    "example",
}


# A deployed release finds its API_KEY as a file here (mounted read-only): a file, because a
# container's environment shows in `docker inspect`. API_KEY in the environment or .env wins.
SECRETS_DIR = Path("/run/secrets")


class ServeSettings(BaseSettings):
    # hide_input_in_errors: a refused API_KEY is never printed back.
    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        protected_namespaces=(),
        hide_input_in_errors=True,
        secrets_dir=SECRETS_DIR if SECRETS_DIR.is_dir() else None,
        frozen=True,
    )

    # A bundle folder, or models:/<name>@champion, models:/<name>/<version>, runs:/<run_id>
    # (the last two need mlflow-skinny and MLFLOW_TRACKING_URI). The default is the champion
    # of this project's own data set; `make train DATA=...` exports others beside it.
    model_uri: str = f"models/{PROJECT}"
    mlflow_tracking_uri: str = "sqlite:///mlflow.db"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    # When set, /predict, /predict/batch and /model require the header `X-API-Key: <key>`.
    api_key: SecretStr | None = None
    max_batch_size: int = Field(1000, ge=1)
    max_body_bytes: int = Field(1_000_000, ge=1024)
    # A connection may not hold the service for ever (serve/internals/limits.py). Idle between requests:
    keep_alive_timeout_s: float = Field(5, gt=0, le=3600, allow_inf_nan=False)
    # From the connection opening (or the last answer on it) to a request's complete headers:
    header_timeout_s: float = Field(10, gt=0, le=3600, allow_inf_nan=False)
    # From the headers to the complete body (a 408 after that):
    body_timeout_s: float = Field(30, gt=0, le=3600, allow_inf_nan=False)
    # Connections (or running requests) per worker; beyond that uvicorn answers 503.
    limit_concurrency: int = Field(1000, ge=1)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    # The request log (serve/internals/request_log.py): inputs and answers as JSON lines, for
    # `make monitor`. It holds what callers send: see docs/monitoring.md before logging
    # personal data.
    log_predictions: bool = True
    log_sample_rate: float = Field(1.0, ge=0, le=1)
    # At most this many rows a second reach the log and the drift window (a uniform sample of
    # the rest): what logging costs stays small however busy the service is.
    log_max_rows_per_s: float = Field(1000, gt=0, allow_inf_nan=False)
    # The live file and its rotated backups together. No inf (nor NaN) in the float settings:
    # inf passes `> 0`, then fails where it becomes a whole number of bytes or rows.
    log_max_mb: float = Field(100, gt=0, allow_inf_nan=False)
    log_dir: Path = Path("logs/requests")
    # Live drift in /metrics: PSI over this many recent (sampled) rows.
    drift_window: int = Field(1000, ge=10)
    # The demo page at / (serve/demo.py); false: / and its files answer 404.
    demo_page: bool = True

    @field_validator("api_key")
    @classmethod
    def refuse_weak_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        key = value.get_secret_value()
        # Header values are bytes: beyond printable ASCII, clients and frameworks encode
        # them differently (UTF-8 here, latin-1 there), and spaces at the ends are dropped.
        if not all("!" <= character <= "~" for character in key):
            raise ValueError(
                "API_KEY may hold only printable ASCII without spaces (it travels in a header). "
                'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        if key.lower() in PLACEHOLDER_KEYS or len(key) < 16:
            raise ValueError(
                "API_KEY is a placeholder or shorter than 16 characters. Generate one with: "
                'python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        return value
