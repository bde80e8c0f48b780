"""The local record of what a deploy created (.deploy/state.json, git-ignored).

It is written step by step, before and after each resource is created, so that
`make destroy` knows the target, the region, the app name (its tags) and every
id even when a deploy stopped half-way, and it is deleted only once nothing it
names is left. Each write replaces the file whole (a temporary file, fsync, then
rename), so a crash mid-write leaves the previous record, never half a file.
"""

import json
import os
import tempfile
from pathlib import Path

from .errors import UnreadableRecord


def state_file(state_dir: Path) -> Path:
    return state_dir / "state.json"


def load(state_dir: Path) -> dict:
    path = state_file(state_dir)
    if not path.exists():
        return {}
    try:
        recorded = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise unreadable(path, str(error)) from None
    if not isinstance(recorded, dict):
        raise unreadable(path, f"a JSON {type(recorded).__name__}, not an object")
    return recorded


def unreadable(path: Path, problem: str) -> UnreadableRecord:
    # Never deleted for you: it may be the only note of a machine that still costs money.
    return UnreadableRecord(
        f"{path} cannot be read ({problem}); it was left as it is. Repair it (JSON: target, "
        "region, app and resource ids), or remove what it named by hand (everything a deploy "
        "creates is tagged created-by=coldstart and project=<app>), then delete it."
    )


def record(state_dir: Path, **values) -> dict:
    """Add values to the record (and write it at once)."""
    state = load(state_dir) | values
    state_dir.mkdir(parents=True, exist_ok=True)
    replace_atomically(state_file(state_dir), json.dumps(state, indent=2) + "\n")
    return state


def replace_atomically(path: Path, text: str) -> None:
    """Write `text` beside `path` (mode 600), flush it to disk, then rename it over `path`."""
    # mkstemp creates the file readable by you alone: the record names your instance and key.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    # The rename itself survives a power cut only once the folder is on disk too.
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def forget(state_dir: Path) -> None:
    state_file(state_dir).unlink(missing_ok=True)
