"""Fetch the deployed release's request log from its host, over the deploy's own SSH
(deploy/ssh.py: strict host keys, the deploy key). Absent in a project without deploys.

The host folder is the container's log volume: whatever the service writes there,
a link planted in it included, is read by the deploy user. So only regular files
travel: the host sends the log's entries as one tar stream, and tar stores a link
as a link (opening files with O_NOFOLLOW), a pipe as a pipe, never what they lead
to; here only regular members with a log file's name are written, the rest is
skipped and said.
"""

import io
import shlex
import shutil
import tarfile
from pathlib import Path

from rich.console import Console

from ..deploy import state
from ..deploy.errors import DeployError
from ..deploy.settings import DeploySettings
from ..deploy.targets import choose
from .errors import MonitorError

# tar's exit status 1: a file changed while it was read (the live log grows); its copy is a
# consistent prefix, which is all the monitor needs.
TAR_OK = (0, 1)


def something_deployed(settings: DeploySettings) -> bool:
    """A recorded deploy (AWS), or a configured SSH host."""
    try:
        return bool(state.load(settings.state_dir)) or bool(settings.ssh_host)
    except DeployError as error:  # an unreadable record
        raise MonitorError(str(error)) from None


def archive_script(folder: str) -> str:
    """The shell command, run on the host, that writes the regular log files as a tar stream."""
    return (
        f"cd {shlex.quote(folder)} 2>/dev/null || exit 0; "
        "find . -maxdepth 1 -name 'requests*.jsonl*' -print0"
        " | tar --null --no-recursion --ignore-failed-read --files-from=- -cf -"
    )


def unpack_regular_files(stream: bytes, into: Path) -> tuple[list[str], list[str]]:
    """Write the archive's regular log files into `into`: (copied names, skipped descriptions)."""
    copied: list[str] = []
    skipped: list[str] = []
    if not stream:  # no log folder on the host yet
        return copied, skipped
    with tarfile.open(fileobj=io.BytesIO(stream), mode="r:") as archive:
        for member in archive:
            name = member.name.removeprefix("./")
            plain = "/" not in name and name.startswith("requests") and ".jsonl" in name
            if not member.isreg():
                skipped.append(f"{name} ({'a link' if member.issym() else 'not a regular file'})")
                continue
            if not plain:
                skipped.append(f"{name} (not a log file's name)")
                continue
            extracted = archive.extractfile(member)
            assert extracted is not None  # a regular file always has contents
            with extracted as source, (into / name).open("wb") as target:
                # Bytes, not text: a corrupt line must reach the reader, which skips and counts it.
                shutil.copyfileobj(source, target)
            copied.append(name)
    return copied, skipped


def fetch_deployed_log(into: Path, console: Console) -> tuple[Path, str] | None:
    """Copy the host's regular requests*.jsonl* files into `into`; None when nothing is deployed."""
    if not something_deployed(DeploySettings()):
        return None
    try:
        module, settings = choose(None)
        releases = module.host_releases(settings, console)
        remote, folder = releases.remote, releases.log_dir()
        fetched = remote.raw("sh", "-c", archive_script(folder))
    except DeployError as error:
        raise MonitorError(f"Could not reach the deployed host: {error}") from None
    if fetched.returncode not in TAR_OK:
        problem = fetched.stderr.decode(errors="replace").strip()
        raise MonitorError(f"Could not copy {folder} from {remote.host}: {problem}")
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    copied, skipped = unpack_regular_files(fetched.stdout, into)
    if skipped:
        console.print(
            f"[yellow]Skipped[/] {', '.join(skipped)} in {remote.host}:{folder}: "
            "only regular files are fetched."
        )
    console.print(f"Fetched {len(copied)} log file(s) from {remote.host}:{folder}")
    return into, f"{remote.host}:~/{folder}"
