"""Deploy settings, from `.env` or environment variables prefixed DEPLOY_ (see .env.example)."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DeploySettings(BaseSettings):
    # The prefix keeps these apart from training's settings (TARGET there is a column).
    model_config = SettingsConfigDict(env_file=".env", env_prefix="DEPLOY_", extra="ignore")

    target: Literal["ssh", "aws"] = "{{ 'aws' if cookiecutter.deploy_target == 'aws' else 'ssh' }}"
    app: str = "{{ cookiecutter.project_slug }}"
    image: str = "{{ cookiecutter.project_slug }}:latest"

    # The VM. For AWS, host and user are filled in from the instance unless set here.
    ssh_host: str = ""
    ssh_user: str = ""
    ssh_port: int = Field(22, ge=1, le=65535)
    ssh_key: Path | None = None
    # Host keys are checked against this file, never accepted blindly.
    known_hosts: Path = Path.home() / ".ssh" / "known_hosts"

    # The service on the VM. 127.0.0.1: reachable only through `make tunnel` (SSH).
    remote_port: int = Field(8000, ge=1, le=65535)
    publish_address: str = "127.0.0.1"
    gpu: bool = False
    api_key: SecretStr | None = None
    health_timeout: int = Field(120, ge=5)

    # AWS (credentials and region come from your AWS config, AWS_PROFILE or AWS_REGION).
    aws_region: str = ""
    instance_type: str = "t3.medium"
    gpu_instance_type: str = "g4dn.xlarge"
    ami_id: str = ""  # empty: the latest Amazon Linux 2023 (or ECS GPU) AMI from SSM
    allowed_cidr: str = ""  # empty: your public IP/32, looked up at deploy time
    ttl_hours: float = Field(4.0, gt=0, le=168)  # the cost guard: the instance ends itself
    owner: str = {{ cookiecutter.author_email | tojson }}
    state_dir: Path = Path(".deploy")
