"""The settings only an AWS deploy needs, on top of DeploySettings (same .env, same DEPLOY_ prefix)."""

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from .settings import DeploySettings


class AwsSettings(DeploySettings):
    # .env only: the practice VM's settings (.practice-vm/deploy.env) are for the ssh target,
    # so an AWS deploy never ships to the practice VM.
    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="DEPLOY_", extra="ignore", frozen=True
    )
    # Credentials come from your AWS config or AWS_PROFILE; the region from here or AWS_REGION.
    aws_region: str = ""
    instance_type: str = "t3.medium"
    gpu_instance_type: str = "g4dn.xlarge"
    ami_id: str = ""  # empty: the latest Amazon Linux 2023 (or ECS GPU) AMI from SSM
    allowed_cidr: str = ""  # empty: your public IP/32, looked up at every deploy
    # The cost guard: the instance powers itself off (and so terminates) at this deadline.
    ttl_hours: float = Field(4.0, gt=0, allow_inf_nan=False)
    # A ceiling on ttl_hours and `make extend`, so a typo cannot rent a machine for a month.
    ttl_max_hours: float = Field(24.0, gt=0, allow_inf_nan=False)
    # SSH goes to the instance's own address. This routes it through another one (a bastion,
    # the tests' VM), with DEPLOY_SSH_PORT/USER/KEY/KNOWN_HOSTS; DEPLOY_SSH_HOST is the ssh
    # target's and never used here.
    aws_ssh_host: str = ""
    owner: str = {{ cookiecutter.author_email | tojson }}

    @model_validator(mode="after")
    def ttl_within_ceiling(self) -> "AwsSettings":
        if self.ttl_hours > self.ttl_max_hours:
            raise ValueError(
                f"DEPLOY_TTL_HOURS={self.ttl_hours:g} is above DEPLOY_TTL_MAX_HOURS="
                f"{self.ttl_max_hours:g}: lower it, or raise DEPLOY_TTL_MAX_HOURS on purpose."
            )
        return self
