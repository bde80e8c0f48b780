"""The local record of a deploy (.deploy/state.json): replaced whole, yours alone, never lost.

A record half-written by a crash, or broken by hand, is the only note of what may
still be running: every command refuses it in one line (exit 2) and keeps it.
"""

import json
import stat
import subprocess
import sys

import pytest

from {{ cookiecutter.package_name }}.deploy import state

from .test_targets import SOURCE, deploy_cli

# Written by a deploy, then cut short by a crash halfway through the next write.
HALF_WRITTEN = '{\n  "target": "ssh",\n  "region": "us-'


def test_the_record_is_readable_by_you_alone(tmp_path):
    state.record(tmp_path / ".deploy", target="ssh", instance_id="i-0123")
    path = state.state_file(tmp_path / ".deploy")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert state.load(tmp_path / ".deploy") == {"target": "ssh", "instance_id": "i-0123"}
    assert [p.name for p in path.parent.iterdir()] == ["state.json"], "no temporary file left"


def test_a_new_record_replaces_the_file_whole_never_in_place(tmp_path):
    folder = tmp_path / ".deploy"
    state.record(folder, target="ssh", instance_id="i-0123")
    # A reader that opened the record before the write (another `make status`) still
    # reads the whole old record: the new one is a new file renamed over it.
    with state.state_file(folder).open() as before:
        state.record(folder, public_ip="198.51.100.7")
        assert json.load(before) == {"target": "ssh", "instance_id": "i-0123"}
    assert state.load(folder)["public_ip"] == "198.51.100.7"


def test_a_write_cut_short_keeps_the_previous_record(tmp_path):
    folder = tmp_path / ".deploy"
    state.record(folder, target="ssh", instance_id="i-0123")
    # A real failed write: the file size limit stops it after 1 kB (as a full disk would).
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from {{ cookiecutter.package_name }}.deploy import state\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))\n"
        "state.record(Path(sys.argv[1]), note='x' * 100_000)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(folder)],
        env={"PYTHONPATH": SOURCE},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "File too large" in result.stderr
    assert state.load(folder) == {"target": "ssh", "instance_id": "i-0123"}
    assert [p.name for p in folder.iterdir()] == ["state.json"], "no temporary file left"


@pytest.mark.parametrize("command", ["status", "destroy", "deploy"])
def test_an_unreadable_record_is_one_line_exit_2_and_kept(tmp_path, command):
    path = tmp_path / ".deploy" / "state.json"
    path.parent.mkdir()
    path.write_text(HALF_WRITTEN)
    result = deploy_cli(tmp_path, command, DEPLOY_YES="1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 3
    message = " ".join(result.stderr.split())
    assert ".deploy/state.json cannot be read" in message and "left as it is" in message
    assert "Repair it" in message and "delete it" in message
    assert path.read_text() == HALF_WRITTEN, "the record is kept exactly as it was"


def test_a_record_that_is_not_an_object_is_refused(tmp_path):
    (tmp_path / "state.json").write_text("[]\n")
    with pytest.raises(state.UnreadableRecord, match="a JSON list, not an object"):
        state.load(tmp_path)
