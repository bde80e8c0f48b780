"""What every container of the service runs under: `make docker-run`, `make docker-smoke`
and each release `make deploy` starts (deploy/releases.py, in projects that deploy)
alike, matching the Kubernetes Deployment's limits and securityContext.

No Linux capabilities and no privilege gain (securityContext: capabilities drop ALL,
allowPrivilegeEscalation: false); memory capped, without swap, at the pod's
limits.memory; a ceiling on processes and threads, so a runaway fork or thread leak
stops inside the container instead of taking the host. The request log's volume is
bounded by the service itself: LOG_MAX_MB is passed to the container explicitly, so
`docker inspect` shows the bound the host folder lives under.
"""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ContainerLimits(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="CONTAINER_", extra="ignore", frozen=True
    )

    # k8s/base/deployment.yaml: limits.memory 256Mi, for one worker (the image's WORKERS=1).
    memory_mb: int = Field(256, ge=64)
    # Processes and threads together; onnxruntime adds a thread per CPU core.
    pids: int = Field(256, ge=32)
    # The service's own LOG_MAX_MB (same name): the request log and its rotated files together.
    log_max_mb: float = Field(100, gt=0, allow_inf_nan=False, validation_alias="LOG_MAX_MB")

    def environment(self) -> dict[str, str]:
        return {"LOG_MAX_MB": f"{self.log_max_mb:g}"}

    def sdk_options(self) -> dict:
        """Keyword arguments for the Docker SDK's containers.run()."""
        return {
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "mem_limit": f"{self.memory_mb}m",
            "memswap_limit": f"{self.memory_mb}m",  # the same: no swap, as in Kubernetes
            "pids_limit": self.pids,
            "environment": self.environment(),
        }

    def cli_options(self) -> list[str]:
        """The same for `docker run` on a host, over SSH."""
        options = ["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
        options += ["--memory", f"{self.memory_mb}m", "--memory-swap", f"{self.memory_mb}m"]
        options += ["--pids-limit", str(self.pids)]
        for name, value in self.environment().items():
            options += ["--env", f"{name}={value}"]
        return options
