"""Kubernetes settings, from `.env` or environment variables prefixed K8S_ (see .env.example)."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..config import PROJECT


class KubeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="K8S_", extra="ignore", frozen=True
    )

    # The Kubernetes version the manifests are validated against: your cluster's.
    version: str = "1.33.0"
    overlay: Literal["cpu", "gpu"] = "cpu"
    app: str = PROJECT
    # The service's key, the same API_KEY `make serve` and `make predict` read (never a
    # K8S_API_KEY of its own: cluster.secret_manifest refuses one); stored in a Secret by k8s-apply.
    api_key: SecretStr | None = Field(None, validation_alias="API_KEY")
