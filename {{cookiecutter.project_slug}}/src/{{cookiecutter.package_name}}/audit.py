"""`make audit`: known vulnerabilities in this environment's packages (pip-audit), and a
failure whenever a package could not be checked.

    python -m {{ cookiecutter.package_name }}.audit [--report reports/pip-audit.json]

pip-audit alone prints "No known vulnerabilities found" and exits 0 even when it checked
nothing: a package index or proxy that does not serve vulnerability data makes it skip
every package. Here a skipped package fails the audit, counted and with the reason.
Exit codes: 0 every package checked, none vulnerable; 1 a known vulnerability, a package
not checked, nothing checked, or pip-audit could not finish; 2 pip-audit is not installed.
pip-audit's own settings apply (PIP_AUDIT_VULNERABILITY_SERVICE=osv asks OSV instead).
"""

import importlib.util
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from . import cli
from .errors import BadInput, ColdstartError

app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])
console = Console(soft_wrap=True)
# pip-audit's reason for a package it left out on purpose (--skip-editable).
EDITABLE = "distribution marked as editable"
NAMED = 5  # packages named in a message; the rest counted
REPORT = Path("reports/pip-audit.json")


@dataclass
class Verdict:
    passed: bool
    message: str


def canonical(name: str) -> str:
    """A distribution name as the index compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def this_project() -> set[str]:
    """This project's own distribution: installed editable, it is code here, not a
    download to check (and a namesake on the index would be a different project)."""
    package = __package__.split(".")[0]
    return {canonical(name) for name in packages_distributions().get(package, [])}


def some(names: list[str]) -> str:
    shown = ", ".join(names[:NAMED])
    return shown + (f" and {len(names) - NAMED} more" if len(names) > NAMED else "")


def why_skipped(skipped: list[dict]) -> str:
    """Each reason without its package suffix, with how many and which packages, most
    common first: "Dependency not found ... (176: aiohttp, ...)"."""
    names: dict[str, list[str]] = {}
    for dependency in skipped:
        names.setdefault(dependency["skip_reason"].split(": ")[0], []).append(dependency["name"])
    ordered = sorted(names.items(), key=lambda item: -len(item[1]))
    return "; ".join(f"{reason} ({len(which)}: {some(which)})" for reason, which in ordered)


def vulnerabilities(vulnerable: list[dict]) -> str:
    def one(dependency: dict) -> str:
        found = ", ".join(
            f"{v['id']}"
            + (f" (fixed in {', '.join(v['fix_versions'])})" if v["fix_versions"] else "")
            for v in dependency["vulns"]
        )
        return f"{dependency['name']} {dependency['version']}: {found}"

    return "; ".join(one(d) for d in vulnerable)


def judge(report: dict, own: set[str]) -> Verdict:
    """pip-audit's JSON (--format json) -> pass only when every package was checked."""
    dependencies = [
        d
        for d in report.get("dependencies", [])
        if not (canonical(d["name"]) in own and d.get("skip_reason") == EDITABLE)
    ]
    skipped = [d for d in dependencies if "skip_reason" in d]
    checked = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in checked if d.get("vulns")]
    not_checked = f"{len(skipped)} of {len(dependencies)} packages skipped: {why_skipped(skipped)}"
    if vulnerable:
        count = sum(len(d["vulns"]) for d in vulnerable)
        also = f" Also {not_checked}." if skipped else ""
        return Verdict(
            False,
            f"{count} known vulnerabilit{'y' if count == 1 else 'ies'} in {len(vulnerable)} "
            f"package(s): {vulnerabilities(vulnerable)}. Upgrade them (to a fixed version) "
            f"and run `make setup`.{also}",
        )
    if not checked:
        return Verdict(
            False,
            f"nothing was checked ({not_checked if skipped else 'pip-audit listed no packages'}). "
            "This is no pass: run it where the package index serves vulnerability data (CI "
            "does), or ask OSV instead: PIP_AUDIT_VULNERABILITY_SERVICE=osv make audit.",
        )
    if skipped:
        return Verdict(False, f"{not_checked}. This is no pass: those packages may be vulnerable.")
    return Verdict(True, f"{len(checked)} packages checked: no known vulnerabilities.")


def run_pip_audit(report: Path) -> dict:
    """pip-audit's JSON for this Python's environment; ColdstartError when it could not finish."""
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)  # never judge an earlier run's output
    command = [sys.executable, "-m", "pip_audit", "--format", "json", "--output", str(report)]
    command += ["--progress-spinner", "off", "--skip-editable"]
    finished = subprocess.run(command, capture_output=True, text=True)
    try:
        return json.loads(report.read_text())
    except (OSError, ValueError):
        last = (finished.stderr.strip().splitlines() or ["no message"])[-1]
        raise ColdstartError(f"pip-audit could not finish: {last}") from None


@app.command()
def main(
    report: Annotated[Path, typer.Option(help="Where pip-audit's JSON is kept")] = REPORT,
) -> None:
    if importlib.util.find_spec("pip_audit") is None:
        raise BadInput("pip-audit is not installed: run `make setup` (dev extra).")
    verdict = judge(run_pip_audit(report), this_project())
    if not verdict.passed:
        raise ColdstartError(f"audit failed: {verdict.message}")
    console.print(f"[green]Audit passed:[/] {escape(verdict.message)} ({report})")


if __name__ == "__main__":
    cli.run(app)
