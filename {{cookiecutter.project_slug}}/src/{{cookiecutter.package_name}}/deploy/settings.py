"""Deploy settings, from `.env` or environment variables prefixed DEPLOY_ (see .env.example)."""

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..config import PROJECT

# Written by `make practice-vm` while the practice VM exists: read after .env, so it wins.
PRACTICE_VM_ENV = Path(".practice-vm") / "deploy.env"


class DeploySettings(BaseSettings):
    # The prefix keeps these apart from training's settings (TARGET there is a column).
    model_config = SettingsConfigDict(
        env_file=(".env", PRACTICE_VM_ENV),
        env_prefix="DEPLOY_",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
    )

    target: str = "{{ 'aws' if cookiecutter.deploy_target == 'aws' else 'ssh' }}"
    app: str = PROJECT
    image: str = f"{PROJECT}:latest"
    yes: bool = False  # true: skip the confirmation before anything is created

    # The VM. Host keys are checked against known_hosts, never accepted blindly.
    ssh_host: str = ""
    ssh_user: str = ""
    ssh_port: int = Field(22, ge=1, le=65535)
    ssh_key: Path | None = None
    known_hosts: Path = Path.home() / ".ssh" / "known_hosts"

    # The service on the VM. 127.0.0.1: reachable only through `make tunnel` (SSH).
    remote_port: int = Field(8000, ge=1, le=65535)
    publish_address: str = "127.0.0.1"
    gpu: bool = False
    # The service's own API_KEY (serve/settings.py), the one setting wherever it runs; a deploy
    # without one makes one and keeps it in .env (secrets.py).
    api_key: SecretStr | None = Field(None, validation_alias="API_KEY")
    health_timeout: int = Field(120, ge=5)
    state_dir: Path = Path(".deploy")
