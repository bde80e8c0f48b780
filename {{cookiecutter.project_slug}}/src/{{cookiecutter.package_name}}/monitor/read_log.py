"""Read the request log (serve/request_log.py): every requests*.jsonl* file, oldest first.

A line that is not a JSON object with `inputs` and `output` (a disk filled mid-line, a
hand edit, another program's output) is skipped and counted, never a crash.
"""

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .errors import MonitorError

ROTATED = re.compile(r"\.jsonl(?:\.(\d+))?$")


@dataclass
class LogRows:
    inputs: list[dict] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    versions: Counter = field(default_factory=Counter)
    skipped: int = 0
    files: list[Path] = field(default_factory=list)

    def last(self, count: int) -> "LogRows":
        return LogRows(
            self.inputs[-count:], self.outputs[-count:], self.times[-count:],
            self.versions, self.skipped, self.files,
        )  # fmt: skip


def oldest_first(path: Path) -> tuple:
    """requests.jsonl.4 (oldest) ... requests.jsonl.1, requests.jsonl (newest)."""
    match = ROTATED.search(path.name)
    backup = int(match.group(1)) if match and match.group(1) else 0
    return (-backup, path.stat().st_mtime)


def log_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise MonitorError(
            f"No request log at {folder}/: start the service (`make serve`) and send it "
            "traffic (`make drift-demo`), or set LOG_DIR to where the log is."
        )
    files = sorted((p for p in folder.glob("requests*.jsonl*") if ROTATED.search(p.name)),
                   key=oldest_first)  # fmt: skip
    if not files:
        raise MonitorError(
            f"{folder}/ holds no requests*.jsonl file: has the service had any traffic, "
            "and is LOG_PREDICTIONS true?"
        )
    return files


def parse_line(raw: bytes) -> tuple[datetime, str, dict, dict] | None:
    try:
        line = json.loads(raw.decode("utf-8"))
        inputs, output = line["inputs"], line["output"]
        at = datetime.fromisoformat(line["time"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(inputs, dict) or not isinstance(output, dict):
        return None
    return at, str(line.get("model_version", "?")), inputs, output


def read_log(folder: Path) -> LogRows:
    rows = LogRows(files=log_files(folder))
    for path in rows.files:
        for raw in path.read_bytes().splitlines():
            if not raw.strip():
                continue
            parsed = parse_line(raw)
            if parsed is None:
                rows.skipped += 1
                continue
            at, version, inputs, output = parsed
            rows.times.append(at)
            rows.versions[version] += 1
            rows.inputs.append(inputs)
            rows.outputs.append(output)
    return rows
