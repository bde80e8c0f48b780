"""Fetch the deployed release's request log from its host, over the deploy's own SSH
(deploy/ssh.py: strict host keys, the deploy key). Absent in a project without deploys."""

import shlex
import shutil
import subprocess
from pathlib import Path

from rich.console import Console

from ..deploy import state
from ..deploy.errors import DeployError
from ..deploy.settings import DeploySettings
from ..deploy.targets import choose
from .errors import MonitorError


def something_deployed(settings: DeploySettings) -> bool:
    """A recorded deploy (AWS), or a configured SSH host."""
    return bool(state.load(settings.state_dir)) or bool(settings.ssh_host)


def fetch_deployed_log(into: Path, console: Console) -> tuple[Path, str] | None:
    """Copy the host's requests*.jsonl* into `into`; None when this project has no deploy."""
    if not something_deployed(DeploySettings()):
        return None
    try:
        module, settings = choose(None)
        releases = module.host_releases(settings, console)
        remote, folder = releases.remote, releases.log_dir()
        names = remote.run("sh", "-c", f"cd {shlex.quote(folder)} 2>/dev/null && ls -1 || true")
    except DeployError as error:
        raise MonitorError(f"Could not reach the deployed host: {error}") from None
    names = [n for n in names.split() if n.startswith("requests") and ".jsonl" in n]
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    for name in names:
        command = [*remote.ssh_command(), shlex.join(["cat", f"{folder}/{name}"])]
        # Bytes, not text: a corrupt line must reach the reader, which skips and counts it.
        copied = subprocess.run(command, capture_output=True)
        if copied.returncode != 0:
            raise MonitorError(f"Could not copy {folder}/{name} from {remote.host}.")
        (into / name).write_bytes(copied.stdout)
    console.print(f"Fetched {len(names)} log file(s) from {remote.host}:{folder}")
    return into, f"{remote.host}:~/{folder}"
