"""`make audit`: pip-audit's verdict, failing whenever a package went unchecked.

The decision is tested on pip-audit's JSON as it really comes out; the whole command runs
real pip-audit against a vulnerability service on 127.0.0.1 (OSV's API, which pip-audit
lets a setting point elsewhere), so no test sends traffic anywhere else.
"""

import json
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.util import find_spec
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.audit import judge

from .conftest import require

PROJECT = Path(__file__).resolve().parents[1]
SOURCE = str(PROJECT / "src")
# pip-audit 2.10 on a machine whose package index answers 404 for per-version data: every
# package skipped (176 of 176; the first four kept), and yet it printed "No known
# vulnerabilities found" and exited 0.
SKIPPED_EVERYWHERE = json.loads(
    '{"dependencies": [{"name": "aiohappyeyeballs", "skip_reason": "Dependency not found on '
    'PyPI and could not be audited: aiohappyeyeballs (2.7.1)"}, {"name": "aiohttp", '
    '"skip_reason": "Dependency not found on PyPI and could not be audited: aiohttp '
    '(3.14.5)"}, {"name": "aiosignal", "skip_reason": "Dependency not found on PyPI and could '
    'not be audited: aiosignal (1.4.0)"}, {"name": "alembic", "skip_reason": "Dependency not '
    'found on PyPI and could not be audited: alembic (1.20.1)"}], "fixes": []}'
)
CHECKED = [
    {"name": "numpy", "version": "2.3.1", "vulns": []},
    {"name": "pandas", "version": "2.3.0", "vulns": []},
]
VULNERABLE = {
    "name": "pillow",
    "version": "9.0.0",
    "vulns": [{"id": "PYSEC-2022-168", "fix_versions": ["9.0.1"], "aliases": ["CVE-2022-22817"]}],
}


def test_every_package_skipped_is_a_failure_with_the_count_and_the_reason():
    verdict = judge(SKIPPED_EVERYWHERE, own=set())
    assert not verdict.passed
    assert verdict.message.startswith("nothing was checked (4 of 4 packages skipped: ")
    assert "Dependency not found on PyPI and could not be audited (4: aiohappyeyeballs" in (
        verdict.message
    )


def test_one_package_skipped_among_checked_ones_is_a_failure():
    report = {"dependencies": [*CHECKED, SKIPPED_EVERYWHERE["dependencies"][0]], "fixes": []}
    verdict = judge(report, own=set())
    assert not verdict.passed
    assert verdict.message.startswith("1 of 3 packages skipped: Dependency not found")


def test_nothing_listed_is_a_failure():
    verdict = judge({"dependencies": [], "fixes": []}, own=set())
    assert not verdict.passed and "pip-audit listed no packages" in verdict.message


def test_a_known_vulnerability_is_named_with_its_fix():
    verdict = judge({"dependencies": [*CHECKED, VULNERABLE], "fixes": []}, own=set())
    assert not verdict.passed
    named = "pillow 9.0.0: PYSEC-2022-168 (fixed in 9.0.1)"
    assert f"1 known vulnerability in 1 package(s): {named}" in verdict.message


def test_every_package_checked_and_clean_passes():
    verdict = judge({"dependencies": CHECKED, "fixes": []}, own=set())
    assert verdict.passed and verdict.message == "2 packages checked: no known vulnerabilities."


def test_only_this_project_installed_editable_may_go_unchecked():
    editable = [
        {"name": "churn-predictor", "skip_reason": "distribution marked as editable"},
        {"name": "someones-fork", "skip_reason": "distribution marked as editable"},
    ]
    report = {"dependencies": [*CHECKED, editable[0]], "fixes": []}
    assert judge(report, own={"churn-predictor"}).passed
    report["dependencies"].append(editable[1])
    verdict = judge(report, own={"churn-predictor"})
    assert not verdict.passed and "(1: someones-fork)" in verdict.message


@contextmanager
def vulnerability_service(answer):
    """An OSV-style API on 127.0.0.1: `answer(query)` -> (status, JSON body) per package."""
    queries: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's name
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            queries.append(query)
            status, body = answer(query)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query", queries
    finally:
        server.shutdown()
        server.server_close()


def audit(cwd: Path, service_url: str):
    """`make audit`'s command, run in `cwd`, asking the service at `service_url`."""
    require(find_spec("pip_audit") is not None, "pip-audit is not installed (the dev extra)")
    env = os.environ | {
        "PIP_AUDIT_VULNERABILITY_SERVICE": "osv",
        "PIP_AUDIT_OSV_URL": service_url,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [SOURCE, os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}.audit"]
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.same_for_every_model
def test_the_audit_passes_when_the_service_checked_every_package(tmp_path):
    with vulnerability_service(lambda query: (200, {})) as (url, queries):
        result = audit(tmp_path, url)
    assert result.returncode == 0, result.stdout + result.stderr
    checked = json.loads((tmp_path / "reports" / "pip-audit.json").read_text())["dependencies"]
    assert len(queries) == len(checked) > 0  # pip-audit asked about every package it listed
    assert f"Audit passed: {len(checked)} packages checked: no known vulnerabilities." in (
        result.stdout
    )


@pytest.mark.slow
@pytest.mark.same_for_every_model
def test_the_audit_fails_naming_a_vulnerable_package(tmp_path):
    def answer(query):
        if query["package"]["name"] != "pip":
            return 200, {}
        affected = {
            "package": {"name": "pip", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "999.0"}]}],
        }
        vulnerability = {"id": "TEST-2026-0001", "summary": "a test", "affected": [affected]}
        return 200, {"vulns": [vulnerability]}

    with vulnerability_service(answer) as (url, _):
        result = audit(tmp_path, url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: audit failed: 1 known vulnerability in 1 package(s): pip " in result.stderr
    assert "TEST-2026-0001 (fixed in 999.0)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.same_for_every_model
def test_the_audit_fails_loudly_when_the_service_cannot_answer(tmp_path):
    with vulnerability_service(lambda query: (503, {"error": "down"})) as (url, _):
        result = audit(tmp_path, url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: pip-audit could not finish" in result.stderr
    assert "passed" not in result.stdout + result.stderr
