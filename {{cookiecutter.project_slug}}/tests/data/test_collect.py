"""`make collect` against a real HTTP server on 127.0.0.1 (tests/data/collect_server.py).

No traffic goes anywhere else: every source is the test server, except the DNS test,
which stands in for the resolver so that no lookup leaves this machine.
"""

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.data.collect.__main__ import app
from {{ cookiecutter.package_name }}.data.collect.run import collect as run_collect_in_process
from {{ cookiecutter.package_name }}.data.collect.settings import PROJECT, load_collect_settings
from {{ cookiecutter.package_name }}.data.collect.snapshots import TERMS_TODO
from {{ cookiecutter.package_name }}.data.collect.source import Source, load_sources

from ..conftest import require_tool
from .collect_server import collect_server, make_rows

pytestmark = pytest.mark.same_for_every_model

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DELAY = 0.1
CONTACT = "tester@collect.test"


@pytest.fixture
def server():
    with collect_server() as running:
        yield running


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder to collect into, with fast but polite settings."""
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "COLLECT_CONTACT": CONTACT,
        "COLLECT_DELAY_S": str(DELAY),
        "COLLECT_RETRIES": "2",
        "COLLECT_CACHE_TTL_S": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def collect(*args: str):
    return CliRunner().invoke(app, list(args))


def combined(name: str) -> pd.DataFrame:
    return pd.read_csv(f"data/collected/{name}.csv")


def manifest(name: str) -> dict:
    return json.loads(Path(f"data/collected/{name}.manifest.json").read_text())


def said(result) -> str:
    return " ".join(result.stdout.split())  # the terminal wraps long lines


@pytest.mark.parametrize(
    "path, options, requested",
    [
        ("/api/body", [], ["/api/body", "/api/body?page=2", "/api/body?page=3"]),
        ("/api/link", [], ["/api/link", "/api/link?page=2", "/api/link?page=3"]),
        (
            "/api/pages",
            ["--page-param", "page"],
            ["/api/pages?page=1", "/api/pages?page=2", "/api/pages?page=3", "/api/pages?page=4"],
        ),
        (
            "/api/offset",
            ["--offset-param", "offset"],
            [f"/api/offset?offset={n}" for n in (0, 100, 200, 300)],
        ),
    ],
    ids=["next-in-body", "link-header", "page-number", "offset"],
)
def test_a_paginated_json_api_is_collected_page_by_page_and_flattened(
    project, server, path, options, requested
):
    result = collect("--source", server.url + path, "--name", "people", *options)
    assert result.exit_code == 0, result.output
    frame = combined("people")
    assert len(frame) == 300 and frame["id"].tolist() == list(range(1, 301))
    assert {"owner.name", "owner.city"} <= set(frame.columns) and "owner" not in frame.columns
    assert "nested fields flattened: owner -> owner.name, owner.city" in said(result)
    assert server.paths() == requested  # the last page is known: nothing asked after it


def test_a_csv_an_excel_file_and_an_html_table_by_header_or_index_are_collected(project, server):
    for name, path, options, rows in [
        ("csv", "/data.csv", [], 300),
        ("excel", "/data.xlsx", [], 300),
        ("sheet", "/data.xlsx", ["--table", "people"], 300),
        ("by-header", "/tables.html", ["--table", "label"], 300),
        ("by-index", "/tables.html", ["--table", "0"], 2),
    ]:
        result = collect("--source", server.url + path, "--name", name, *options)
        assert result.exit_code == 0, result.output
        assert len(combined(name)) == rows, name
        kind = {"by-header": "html", "by-index": "html", "sheet": "excel"}.get(name, name)
        assert manifest(name)["snapshots"][0]["kind"] == kind
    assert list(combined("by-index").columns) == ["city", "price"]
    assert "the page has 2 tables (0: city, price; 1: id, x, group, label)" in said(result)


def test_requests_go_one_at_a_time_with_the_delay_and_name_the_project_and_contact(project, server):
    assert collect("--source", server.url + "/api/body", "--name", "people").exit_code == 0
    times = [when for when, _, _ in server.log]
    assert len(times) == 4  # robots.txt and three pages
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= DELAY
    agents = {agent for _, _, agent in server.log}
    assert agents == {f"{PROJECT}-collect/0.1 (+{CONTACT})"}
    assert manifest("people")["terms"] == TERMS_TODO  # none given: the run reminds you


def test_progress_is_reported_after_every_page(project, server):
    seen = []
    source = Source(name="people", url=server.url + "/api/body")
    run = run_collect_in_process(
        source, load_collect_settings(), progress=lambda *at: seen.append(at)
    )
    assert seen == [(1, 100), (2, 200), (3, 300)] and len(run.frame) == 300


def test_robots_txt_crawl_delay_is_obeyed_when_longer_than_the_delay(project, server):
    server.robots = "User-agent: *\nCrawl-delay: 1\n"
    result = collect("--source", server.url + "/data.csv", "--name", "rows")
    assert result.exit_code == 0 and "robots.txt asks for 1 s between requests" in said(result)
    (robots, _, _), (page, _, _) = server.log
    assert page - robots >= 1.0


def test_max_pages_stops_the_run_and_says_the_source_has_more(project, server, monkeypatch):
    monkeypatch.setenv("MAX_PAGES", "2")
    result = collect("--source", server.url + "/api/body", "--name", "people")
    assert result.exit_code == 0 and "stopped at MAX_PAGES=2; the source has more" in said(result)
    assert len(combined("people")) == 200 and manifest("people")["snapshots"][0]["more_pages"]
    assert server.paths() == ["/api/body", "/api/body?page=2"]


def test_a_path_robots_txt_disallows_is_refused_with_the_rule(project, server):
    result = collect("--source", server.url + "/private/data.csv", "--name", "private")
    assert result.exit_code == 2
    assert "forbids /private/data.csv" in result.stderr
    assert "User-agent: * / Disallow: /private/" in result.stderr
    assert server.paths() == [] and not Path("data/collected/private.csv").exists()

    result = collect("--source", server.url + "/moved", "--name", "private")  # a redirect there
    assert result.exit_code == 2 and "Disallow: /private/" in result.stderr
    assert server.paths() == ["/moved"]


def test_a_429_is_waited_out_as_retry_after_says_and_a_500_is_tried_again(project, server):
    result = collect("--source", server.url + "/api/ratelimited", "--name", "limited")
    assert result.exit_code == 0, result.output
    assert len(combined("limited")) == 300
    second = [when for when, path, _ in server.log if path == "/api/ratelimited?page=2"]
    assert len(second) == 2 and second[1] - second[0] >= 1.0  # Retry-After: 1

    result = collect("--source", server.url + "/api/flaky", "--name", "flaky")
    assert result.exit_code == 0, result.output
    assert server.paths().count("/api/flaky") == 2 and len(combined("flaky")) == 100


def test_a_429_without_retry_after_waits_a_polite_while_not_just_the_delay(
    project, server, monkeypatch
):
    monkeypatch.setenv("COLLECT_MAX_WAIT_S", "1.5")  # caps the 5 s wait, to keep this short
    result = collect("--source", server.url + "/api/throttled", "--name", "throttled")
    assert result.exit_code == 0, result.output
    second = [when for when, path, _ in server.log if path == "/api/throttled?page=2"]
    assert len(second) == 2 and second[1] - second[0] >= 1.5


def test_a_retry_after_longer_than_collect_max_wait_s_is_left_for_later(
    project, server, monkeypatch
):
    monkeypatch.setenv("COLLECT_MAX_WAIT_S", "0.5")
    result = collect("--source", server.url + "/api/ratelimited", "--name", "limited")
    assert result.exit_code == 2
    assert "asks to wait 1 s (Retry-After), more than COLLECT_MAX_WAIT_S=0.5" in result.stderr


def test_a_slow_page_times_out_in_one_line(project, server, monkeypatch):
    server.slow_s = 2.0
    monkeypatch.setenv("COLLECT_TIMEOUT_S", "0.3")
    monkeypatch.setenv("COLLECT_RETRIES", "1")
    result = collect("--source", server.url + "/api/slow", "--name", "slow")
    assert result.exit_code == 2
    assert "did not answer in time (COLLECT_TIMEOUT_S) (tried 2 times)" in result.stderr
    assert server.paths() == ["/api/slow", "/api/slow"]  # a timeout is tried again


BAD_SOURCES = [
    ("/members", [], "is a login page (a password form), not data"),
    ("/api/loop", [], "pagination loops: page 3"),
    ("/api/same", ["--page-param", "page"], "has the same content as page 1"),
    ("/logo.png", [], "answered image/png"),
    ("/shape.json", [], "JSON with no list of records (top-level keys: status, count)"),
    ("/gone", [], "is gone for good (410 Gone)"),
    ("/missing", [], "does not exist (404 Not Found)"),
    ("/notable.html", [], "an HTML page without a <table>"),
    ("/empty.json", [], "returned no records: nothing to collect"),
    ("/big.json", [], "sent more than COLLECT_MAX_BYTES=10,000 bytes"),
    ("/api/body", ["--key-columns", "code"], "KEY_COLUMNS names code, which"),
    ("refused", [], "nothing answers at 127.0.0.1:"),
    ("tls", [], "TLS failed with 127.0.0.1:"),
]


@pytest.mark.parametrize("path, options, problem", BAD_SOURCES, ids=[b[0] for b in BAD_SOURCES])
def test_bad_input_is_one_line_exit_2_and_the_combined_file_stays_whole(
    project, server, monkeypatch, path, options, problem
):
    monkeypatch.setenv("COLLECT_MAX_BYTES", "10000")
    monkeypatch.setenv("COLLECT_RETRIES", "0")
    url = server.url + path
    if path == "refused":
        with socket.socket() as unused:  # a port nothing listens on
            unused.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{unused.getsockname()[1]}/data.csv"
    elif path == "tls":
        url = server.url.replace("http://", "https://") + "/data.csv"  # it speaks plain HTTP
    before = b"id,x\n1,0.5\n"
    Path("data/collected").mkdir(parents=True)
    Path("data/collected/bad.csv").write_bytes(before)
    result = collect("--source", url, "--name", "bad", *options)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: bad: ") and problem in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert Path("data/collected/bad.csv").read_bytes() == before


def test_a_host_that_does_not_resolve_is_one_line(project, monkeypatch):
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):  # a real lookup would leave this machine
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    result = collect("--source", "http://no-such-host.invalid/data.csv", "--name", "dns")
    assert result.exit_code == 2
    assert "cannot find the host no-such-host.invalid (DNS lookup failed)" in result.stderr


def sha256_of(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_second_run_adds_only_new_rows_and_the_manifest_lists_every_snapshot(project, server):
    source = ["--source", server.url + "/api/body", "--name", "people", "--key-columns", "id"]
    terms = ["--terms", "Test data, free to use"]
    assert collect(*source, *terms).exit_code == 0
    server.rows = make_rows(251, 150, seed=1)  # ids 251-300 again, then 100 new ones
    result = collect(*source)
    assert result.exit_code == 0, result.output
    assert re.search(r"people\s*│\s*2\s*│\s*150\s*│\s*100\s*│\s*50\s*│", result.stdout)

    frame = combined("people")
    assert len(frame) == 400 and frame["id"].is_unique
    listed = manifest("people")
    first, second = listed["snapshots"]
    assert (first["rows_fetched"], first["rows_new"], first["duplicates"]) == (300, 300, 0)
    assert (second["rows_fetched"], second["rows_new"], second["duplicates"]) == (150, 100, 50)
    for snapshot in (first, second):
        assert snapshot["sha256"] == sha256_of(f"data/collected/{snapshot['file']}")
        assert snapshot["source"] == server.url + "/api/body" and snapshot["merged"]
        assert snapshot["fetched_at"].endswith("+00:00") and snapshot["pages"] in (3, 2)
        rows = pd.read_csv(f"data/collected/{snapshot['file']}")
        assert len(rows) == snapshot["rows_fetched"]  # the snapshot keeps duplicates too
    assert first["columns"] == {
        "id": "number",
        "x": "number",
        "group": "text",
        "label": "number",
        "owner.name": "text",
        "owner.city": "text",
    }
    assert listed["combined"] == {
        "file": "people.csv",
        "rows": 400,
        "sha256": sha256_of("data/collected/people.csv"),
        "columns": first["columns"],
    }
    assert listed["terms"] == second["terms"] == "Test data, free to use"
    assert len(list(Path("data/collected/people").glob("*.csv"))) == 2


def test_without_key_columns_a_whole_row_seen_before_is_a_duplicate(project, server):
    source = ["--source", server.url + "/data.csv", "--name", "rows"]
    assert collect(*source).exit_code == 0
    server.rows = server.rows[:10] + make_rows(301, 5)
    assert collect(*source).exit_code == 0
    assert manifest("rows")["snapshots"][1]["duplicates"] == 10 and len(combined("rows")) == 305


def test_a_changed_column_is_reported_and_never_silently_merged(project, server):
    source = ["--source", server.url + "/api/body", "--name", "people", "--key-columns", "id"]
    assert collect(*source).exit_code == 0
    before = sha256_of("data/collected/people.csv")
    server.rows = [
        {k: v for k, v in row.items() if k != "group"}
        | {"x": "high", "id": row["id"] + 300, "extra": 1}
        for row in make_rows(1, 100)
    ]
    result = collect(*source)
    assert result.exit_code == 2
    assert "added extra; removed group; x number -> text" in result.stderr
    assert sha256_of("data/collected/people.csv") == before
    refused = manifest("people")["snapshots"][-1]
    assert not refused["merged"] and refused["schema_change"] == [
        "added extra",
        "removed group",
        "x number -> text",
    ]
    assert Path("data/collected", refused["file"]).is_file()  # what was fetched is kept

    assert collect(*source, "--accept-schema-change").exit_code == 0
    assert len(combined("people")) == 400 and manifest("people")["snapshots"][-1]["merged"]
    assert collect(*source).exit_code == 0  # accepted once: the new columns are the source's now
    assert manifest("people")["snapshots"][-1]["duplicates"] == 100


def test_a_rerun_within_the_cache_time_asks_the_site_nothing(project, server, monkeypatch):
    monkeypatch.setenv("COLLECT_CACHE_TTL_S", "600")
    source = ["--source", server.url + "/api/body", "--name", "people"]
    assert collect(*source).exit_code == 0
    asked = len(server.log)
    result = collect(*source)
    assert result.exit_code == 0 and len(server.log) == asked
    # The table says so: no request sent, every page (and robots.txt) from the cache.
    row = next(line for line in result.output.splitlines() if line.strip("│ ").startswith("people"))
    name, pages, _, _, _, requests, cached, _ = (cell.strip() for cell in row.strip("│").split("│"))
    assert requests == "0" and int(cached) >= int(pages) > 0, row
    assert Path("build/collect/http-cache.sqlite").is_file()
    assert manifest("people")["snapshots"][1]["duplicates"] == 300


def test_collect_yaml_collects_every_source_and_its_example_is_valid(project, server):
    Path("collect.yaml").write_text(
        "sources:\n"
        f"  - name: people\n    url: {server.url}/api/body\n    key_columns: [id]\n"
        f"  - name: cities\n    url: {server.url}/tables.html\n    kind: html\n    table: city\n"
    )
    result = collect()
    assert result.exit_code == 0, result.output
    assert len(combined("people")) == 300 and len(combined("cities")) == 2

    shipped = (PROJECT_ROOT / "collect.yaml").read_text()
    assert "\nsources: []\n" in shipped
    example = "\n".join(
        line[2:] for line in shipped.splitlines() if line.startswith("#   ") or line == "# sources:"
    )
    Path("example.yaml").write_text(example)
    assert [s.name for s in load_sources(Path("example.yaml"))] == [
        "earthquakes",
        "city-populations",
        "stations",
    ]


def test_a_bad_setting_is_one_line_and_exit_2(project, monkeypatch, server):
    monkeypatch.setenv("COLLECT_CONTACT", "you@example.com")
    result = collect("--source", server.url + "/data.csv", "--name", "x")
    assert result.exit_code == 2 and result.stderr.startswith("error: COLLECT_CONTACT")
    assert server.log == []


def run_collect(url: str, folder: Path) -> subprocess.Popen:
    env = os.environ | {
        "COLLECT_CONTACT": CONTACT,
        "COLLECT_DELAY_S": "0.05",
        "COLLECT_CACHE_TTL_S": "0",
        "PYTHONPATH": str(PROJECT_ROOT / "src"),
    }
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}.data.collect"]
    return subprocess.Popen(
        [*command, "--source", url, "--name", "people", "--key-columns", "id"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )


def ctrl_c_as_in_a_terminal() -> None:
    """A terminal delivers Ctrl-C; a job started in the background (CI, `cmd &`) ignores it,
    and Python keeps an ignored SIGINT ignored, so the interrupt below would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_an_interrupted_run_resumes_from_its_last_page_and_loses_nothing(tmp_path, server, stop):
    server.rows = make_rows(1, 500)
    server.page_delay_s = 0.3
    process = run_collect(server.url + "/api/body", tmp_path)
    deadline = time.monotonic() + 60
    while "/api/body?page=3" not in server.paths() and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(stop)  # pages 1 and 2 are saved; page 3 is in flight
    _, stderr = process.communicate(timeout=30)
    if stop == signal.SIGINT:
        assert process.returncode == 130 and "run the same command to resume" in stderr
    assert not (tmp_path / "data/collected/people.csv").exists()

    server.log.clear()
    process = run_collect(server.url + "/api/body", tmp_path)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "Resuming people: 2 pages were fetched before" in stdout
    assert server.paths()[0] == "/api/body?page=3" and "/api/body" not in server.paths()
    frame = pd.read_csv(tmp_path / "data/collected/people.csv")
    assert frame["id"].tolist() == list(range(1, 501))
    assert manifest_at(tmp_path)["snapshots"][0]["pages"] == 5
    assert not (tmp_path / "data/collected/people/.partial").exists()


def manifest_at(folder: Path) -> dict:
    return json.loads((folder / "data/collected/people.manifest.json").read_text())


@pytest.mark.slow
def test_make_train_trains_on_what_make_collect_gathered(tmp_path, server):
    make = require_tool("make")
    env = os.environ | {
        "COLLECT_CONTACT": CONTACT,
        "COLLECT_DELAY_S": "0.05",
        "CV_FOLDS": "3",
        "PYTHONPATH": str(PROJECT_ROOT / "src"),
        "MODEL_NAME": "collected",
    }
    base = [make, "-f", str(PROJECT_ROOT / "Makefile"), f"PY={sys.executable}"]
    collected = subprocess.run(
        [*base, "collect", f"SOURCE={server.url}/api/body", "NAME=quotes", "KEY_COLUMNS=id"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr
    trained = subprocess.run(
        [*base, "train", "DATA=data/collected/quotes.csv", "TARGET=label"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-2000:]
    assert "300 rows in" in " ".join(trained.stdout.split())
    assert (tmp_path / "models" / "collected" / "metadata.json").is_file()
