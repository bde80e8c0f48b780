"""Read the request log (serve/internals/request_log.py): every requests*.jsonl* file, oldest first.

A line that is not what the service writes (a disk filled mid-line, a hand edit, another
program's output, a value of the wrong type, JSON nested 100,000 deep) is skipped and
counted with the reason, never a crash. The log is read a line at a time and only the
newest `keep` rows are held (a deque), so memory follows MONITOR_ROWS, not the log's size.
"""

import re
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, NotRequired

from pydantic import (
    AwareDatetime,
    Field,
    Strict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

# pydantic needs typing_extensions' TypedDict before Python 3.12 (and depends on it).
from typing_extensions import TypedDict

from .errors import MonitorError

ROTATED = re.compile(r"\.jsonl(?:\.(\d+))?$")
# The service's lines are a few hundred bytes; a longer one is not its output. Reading
# is capped so one huge line (no newline in 1 GB) cannot fill memory.
MAX_LINE_BYTES = 1024 * 1024
# A whole number float() can take (the drift rules turn numbers into floats).
Whole = Annotated[StrictInt, Field(ge=-(2**63), lt=2**63)]
Number = Whole | StrictFloat
Value = StrictStr | Number | StrictBool | None  # what a logged field holds


class Answer(TypedDict):
    prediction: Value
    probabilities: NotRequired[dict[str, Number]]


class Line(TypedDict):
    """One line as serve/internals/request_log.py writes it (anything else in it is ignored)."""

    time: Annotated[AwareDatetime, Strict()]
    model_version: NotRequired[StrictStr | Whole]
    inputs: dict[str, Value]
    output: Answer


# What each field must be: a skipped line's reason (few distinct texts, so they count well).
EXPECTED = {
    "time": "an ISO date and time with its zone",
    "model_version": "text or a whole number",
    "inputs": "an object of text, numbers, true/false or null",
    "output": "an object",
    "output.prediction": "text, a number, true/false or null",
    "output.probabilities": "an object of numbers",
}


LINE = TypeAdapter(Line)  # pydantic's JSON parser: strict types, a nesting limit, no recursion


@dataclass
class Row:
    time: datetime
    version: str
    inputs: dict
    output: dict


class EvenSample:
    """At most `limit` items spread evenly over a stream of unknown length: every
    `stride`-th item is kept; when more than `limit` are, every other one goes and the
    stride doubles. The plot over time covers the whole log in bounded memory."""

    def __init__(self, limit: int):
        self.limit, self.stride, self.seen = limit, 1, 0
        self.items: list = []

    def add(self, item) -> None:
        if self.seen % self.stride == 0:
            self.items.append(item)
            if len(self.items) > self.limit:
                del self.items[1::2]
                self.stride *= 2
        self.seen += 1


@dataclass
class LogRows:
    """The newest rows (to compare), an even sample of all rows (to plot), and counts."""

    newest: list[Row]
    over_time: list[Row]
    read: int
    skipped: Counter
    files: list[Path] = field(default_factory=list)

    @property
    def inputs(self) -> list[dict]:
        return [row.inputs for row in self.newest]

    @property
    def outputs(self) -> list[dict]:
        return [row.output for row in self.newest]

    def versions(self) -> Counter:
        """Model versions of the compared rows."""
        return Counter(row.version for row in self.newest)

    def skipped_text(self) -> str:
        """ "3 lines skipped: 2 not JSON, 1 `time`: ...", or "" when none were."""
        total = sum(self.skipped.values())
        if not total:
            return ""
        reasons = ", ".join(f"{count} {reason}" for reason, count in self.skipped.most_common())
        return f"{total} line{'s' if total != 1 else ''} skipped: {reasons}"


def oldest_first(path: Path) -> tuple:
    """By each file's last write: with one worker, requests.jsonl.4 (oldest) ... .1, then
    requests.jsonl (newest); with several, a killed worker's current file (backup 0) holds
    rows older than a live worker's rotated ones, so the backup number alone would put old
    rows last and make them "the newest". Ties (the same clock tick) by backup number."""
    match = ROTATED.search(path.name)
    backup = int(match.group(1)) if match and match.group(1) else 0
    return (path.stat().st_mtime, -backup)


def log_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise MonitorError(
            f"No request log at {folder}/: start the service (`make serve`) and send it "
            "traffic (`make drift-demo`), or set LOG_DIR to where the log is."
        )
    files = sorted(
        (p for p in folder.glob("requests*.jsonl*") if ROTATED.search(p.name)), key=oldest_first
    )
    if not files:
        raise MonitorError(
            f"{folder}/ holds no requests*.jsonl file: has the service had any traffic, "
            "and is LOG_PREDICTIONS true?"
        )
    return files


def raw_lines(path: Path) -> Iterator[bytes | None]:
    """Each line's bytes; None for a line longer than MAX_LINE_BYTES (read past, not held)."""
    with path.open("rb") as file:
        while raw := file.readline(MAX_LINE_BYTES + 1):
            if len(raw) <= MAX_LINE_BYTES:
                yield raw
                continue
            while raw and not raw.endswith(b"\n"):
                raw = file.readline(MAX_LINE_BYTES)
            yield None


def shape_problem(error: ValidationError) -> str:
    """Why a line is not the service's, in a few words."""
    first = error.errors(include_url=False)[0]
    where = [str(part) for part in first["loc"]]
    if first["type"] == "json_invalid":
        return "nested too deeply" if "recursion limit" in first["msg"] else "not JSON"
    if not where:
        return "not a JSON object"
    name = where[0]
    if name == "output" and len(where) > 1 and f"output.{where[1]}" in EXPECTED:
        name = f"output.{where[1]}"
    if first["type"] == "missing":
        return f"no `{name}`"
    return f"`{name}` not {EXPECTED.get(name, 'what the service writes')}"


def parse_line(raw: bytes) -> Row | str:
    """The row, or why the line was skipped."""
    try:
        line = LINE.validate_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8"
    except ValidationError as error:
        return shape_problem(error)
    version = str(line.get("model_version", "?"))
    return Row(line["time"], version, line["inputs"], dict(line["output"]))


def read_log(folder: Path, keep: int) -> LogRows:
    """The newest `keep` readable rows of the log, and `keep` spread over all of it."""
    files = log_files(folder)
    newest: deque[Row] = deque(maxlen=keep)
    over_time = EvenSample(keep)
    skipped: Counter = Counter()
    for path in files:
        for raw in raw_lines(path):
            if raw is not None and not raw.strip():
                continue
            row = f"longer than {MAX_LINE_BYTES:,} bytes" if raw is None else parse_line(raw)
            if isinstance(row, str):
                skipped[row] += 1
                continue
            newest.append(row)
            over_time.add(row)
    return LogRows(list(newest), over_time.items, over_time.seen, skipped, files)
