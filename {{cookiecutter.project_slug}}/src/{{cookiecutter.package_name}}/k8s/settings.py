"""Kubernetes settings, from `.env` or environment variables prefixed K8S_ (see .env.example)."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..config import PROJECT, renamed


class KubeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="K8S_", extra="ignore", frozen=True, populate_by_name=True
    )

    # The Kubernetes version the manifests are validated against: your cluster's.
    version: str = "1.33.0"
    overlay: Literal["cpu", "gpu"] = "cpu"
    # The app's name, the same DEPLOY_APP a deploy names its containers with: the Deployment's,
    # Service's and labels' name.
    app: str = Field(PROJECT, validation_alias="DEPLOY_APP")
    _renamed = renamed("K8S_APP", "DEPLOY_APP", "one name for the app wherever it runs")
    # The service's key, the same API_KEY `make serve` and `make predict` read (never a
    # K8S_API_KEY of its own: cluster.secret_manifest refuses one); stored in a Secret by k8s-apply.
    api_key: SecretStr | None = Field(None, validation_alias="API_KEY")
