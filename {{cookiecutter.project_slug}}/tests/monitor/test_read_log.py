"""The log reader alone, in this process: what it keeps, what it skips and why, and how
much memory it holds while reading (tracemalloc: every Python allocation, counted exactly)."""

import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.monitor.read_log import (
    MAX_LINE_BYTES,
    EvenSample,
    parse_line,
    read_log,
)

LINE: dict[str, Any] = {
    "time": "2026-11-21T15:40:00.123+00:00",
    "model_version": "3",
    "inputs": {"age": 41.0, "contract": "two year", "signup_date": "2022-01-06", "calls": None},
    "output": {"prediction": "no", "probabilities": {"no": 0.95, "yes": 0.05}},
}


def numbered(first: int, count: int) -> bytes:
    """`count` lines in the service's format, inputs.n numbering them."""
    lines = (
        json.dumps(LINE | {"inputs": LINE["inputs"] | {"n": n}})
        for n in range(first, first + count)
    )
    return "\n".join(lines).encode() + b"\n"


def rotated_log(folder: Path, per_file: int) -> Path:
    """requests.jsonl.2 (oldest) .. requests.jsonl (newest), numbered oldest first."""
    folder.mkdir()
    for age, name in enumerate(("requests.jsonl.2", "requests.jsonl.1", "requests.jsonl")):
        (folder / name).write_bytes(numbered(age * per_file, per_file))
    return folder


def test_the_newest_rows_are_kept_and_every_row_is_counted(tmp_path):
    rows = read_log(rotated_log(tmp_path / "logs", per_file=1000), keep=500)
    assert rows.read == 3000
    assert [row.inputs["n"] for row in rows.newest] == list(range(2500, 3000))


def test_a_killed_workers_file_is_read_as_old_as_its_last_row(tmp_path):
    """WORKERS=2: a worker killed an hour ago left requests-111.jsonl (rows 0-999); the live
    one has rotated since (rows 1000-1999 in .1, 2000-2999 now). The newest are the live's."""
    folder = tmp_path / "logs"
    folder.mkdir()
    files = {"requests-111.jsonl": 0, "requests-222.jsonl.1": 1000, "requests-222.jsonl": 2000}
    for written, (name, first) in enumerate(files.items()):
        (folder / name).write_bytes(numbered(first, 1000))
        os.utime(folder / name, (1_700_000_000 + 60 * written,) * 2)
    rows = read_log(folder, keep=1500)
    assert [row.inputs["n"] for row in rows.newest] == list(range(1500, 3000))


def test_the_rows_over_time_are_spread_evenly_over_the_whole_log(tmp_path):
    rows = read_log(rotated_log(tmp_path / "logs", per_file=1000), keep=500)
    numbers = [row.inputs["n"] for row in rows.over_time]
    steps = {b - a for a, b in zip(numbers, numbers[1:], strict=False)}
    assert len(numbers) <= 500 and len(steps) == 1
    assert numbers[0] == 0 and numbers[-1] >= 3000 - steps.pop()


@pytest.mark.parametrize("count", [1, 7, 100, 101, 1000, 12345])
def test_an_even_sample_never_holds_more_than_its_limit(count):
    sample = EvenSample(100)
    for item in range(count):
        sample.add(item)
    stride = sample.stride
    assert sample.items == list(range(0, count, stride))[:100]
    assert len(sample.items) <= 100 and sample.seen == count
    assert count - 1 - sample.items[-1] < stride  # reaches the end of the stream


def traced_peak_mb(read) -> float:
    tracemalloc.start()
    try:
        read()
        return tracemalloc.get_traced_memory()[1] / 1024 / 1024
    finally:
        tracemalloc.stop()


def test_reading_a_large_log_holds_the_kept_rows_not_the_file(tmp_path):
    """A 12 MB log, 100 rows kept: the reader's peak is a small fraction of the file. Reading
    the file whole (its bytes, then a dict per row) held many times its size."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "requests.jsonl").write_bytes(numbered(0, 2000) * 26)
    assert (folder / "requests.jsonl").stat().st_size > 12 * 1024 * 1024
    peak = traced_peak_mb(lambda: read_log(folder, keep=100))
    assert peak < 2, f"{peak:.1f} MB held to read a 12 MB log"


def test_a_line_longer_than_the_limit_is_skipped_without_being_held(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    huge = b'{"inputs": "' + b"x" * (20 * MAX_LINE_BYTES) + b'"}\n'
    (folder / "requests.jsonl").write_bytes(numbered(0, 10) + huge + numbered(10, 10))
    rows = read_log(folder, keep=100)
    peak = traced_peak_mb(lambda: read_log(folder, keep=100))
    assert rows.read == 20
    assert rows.skipped_text() == "1 line skipped: 1 longer than 1,048,576 bytes"
    assert peak < 4, f"{peak:.1f} MB held for a 20 MB line"


def service_line(**changes) -> bytes:
    return json.dumps(LINE | changes).encode()


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (
            service_line(output={"prediction": "no", "probabilities": "yes"}),
            "`output.probabilities` not an object of numbers",
        ),
        (
            service_line(output={"prediction": "no", "probabilities": {"no": "high"}}),
            "`output.probabilities` not an object of numbers",
        ),
        (
            service_line(output={"prediction": {"label": "no"}}),
            "`output.prediction` not text, a number, true/false or null",
        ),
        (service_line(output={"probabilities": {"no": 1.0}}), "no `output.prediction`"),
        (service_line(output="no"), "`output` not an object"),
        (
            service_line(inputs={"age": [41]}),
            "`inputs` not an object of text, numbers, true/false or null",
        ),
        (
            service_line(inputs="age=41"),
            "`inputs` not an object of text, numbers, true/false or null",
        ),
        (service_line(time="2026-11-21T15:40:00"), "`time` not an ISO date and time with its zone"),
        (service_line(time=1763739600), "`time` not an ISO date and time with its zone"),
        (service_line(model_version=["3"]), "`model_version` not text or a whole number"),
        (json.dumps({k: v for k, v in LINE.items() if k != "inputs"}).encode(), "no `inputs`"),
    ],
)
def test_a_line_the_service_never_writes_is_skipped_with_its_reason(raw, reason):
    assert parse_line(raw) == reason


def test_a_line_as_the_service_writes_it_is_read_as_written():
    row = parse_line(service_line(model_version=4))
    assert (row.version, row.inputs, row.output) == ("4", LINE["inputs"], LINE["output"])
    assert row.time.isoformat(timespec="milliseconds") == LINE["time"]
