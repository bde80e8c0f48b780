"""The local record of what a deploy created (.deploy/state.json, git-ignored).

It is written step by step, before and after each resource is created, so that
`make destroy` knows the target, the region and every id even when a deploy
stopped half-way, and it is deleted only once nothing it names is left.
"""

import json
from pathlib import Path


def state_file(state_dir: Path) -> Path:
    return state_dir / "state.json"


def load(state_dir: Path) -> dict:
    path = state_file(state_dir)
    return json.loads(path.read_text()) if path.exists() else {}


def record(state_dir: Path, **values) -> dict:
    """Add values to the record (and write it at once)."""
    state = load(state_dir) | values
    state_dir.mkdir(parents=True, exist_ok=True)
    state_file(state_dir).write_text(json.dumps(state, indent=2) + "\n")
    return state


def forget(state_dir: Path) -> None:
    state_file(state_dir).unlink(missing_ok=True)
