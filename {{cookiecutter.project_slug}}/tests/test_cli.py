"""One front door: every command `make` runs fails the same way (errors.py, cli.py)."""

import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.errors import ColdstartError

PACKAGE = "{{ cookiecutter.package_name }}"
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / PACKAGE

# Every make-facing command that reads settings, with one bad setting for it.
BAD_SETTINGS = [
    ("make data-report", ["data.report"], {"CV_FOLDS": "1"}, "CV_FOLDS"),
    ("make train", ["model.train"], {"CV_FOLDS": "1"}, "CV_FOLDS"),
    (
        "make collect",
        ["data.collect", "--source", "http://127.0.0.1:9/x.csv", "--name", "x"],
        {"COLLECT_RETRIES": "-1", "COLLECT_CONTACT": "me@my-site.org"},
        "COLLECT_RETRIES",
    ),
    ("make serve", ["serve"], {"PORT": "0"}, "PORT"),
    ("make predict", ["serve.client"], {"MAX_BODY_BYTES": "1"}, "MAX_BODY_BYTES"),
    ("make docker-build", ["container", "build"], {"PORT": "0"}, "PORT"),
    ("make docker-run", ["container", "run"], {"CONTAINER_PIDS": "1"}, "CONTAINER_PIDS"),
    ("make docker-smoke", ["container", "smoke"], {"LOG_MAX_MB": "inf"}, "LOG_MAX_MB"),
    ("make monitor", ["monitor"], {"MONITOR_ROWS": "1"}, "MONITOR_ROWS"),
    ("make drift-demo", ["monitor.drift_demo"], {"MAX_BODY_BYTES": "1"}, "MAX_BODY_BYTES"),
    ("make k8s", ["k8s", "render"], {"K8S_OVERLAY": "bad"}, "K8S_OVERLAY"),
    ("make k8s-status", ["k8s", "status"], {"K8S_OVERLAY": "bad"}, "K8S_OVERLAY"),
    ("make status", ["deploy", "status"], {"DEPLOY_REMOTE_PORT": "99999"}, "DEPLOY_REMOTE_PORT"),
]


def command(arguments: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    module = f"{PACKAGE}.{arguments[0]}"
    if importlib.util.find_spec(module) is None:  # an option this project was made without
        pytest.skip(f"{module} is not part of this project")
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", module, *arguments[1:]],
        env=os.environ | {"PYTHONPATH": path, "COLUMNS": "200"} | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "arguments, env, name", [case[1:] for case in BAD_SETTINGS], ids=[c[0] for c in BAD_SETTINGS]
)
def test_every_command_given_a_bad_setting_says_one_line_and_exits_2(
    tmp_path, arguments, env, name
):
    result = command(arguments, env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: {name}: "), result.stderr
    assert "Fix it in .env or the environment." in result.stderr


def test_a_failed_step_is_one_line_and_exit_1(tmp_path):
    result = command(["serve.client", "--url", "http://127.0.0.1:9"], {"API_KEY": ""}, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("error: No service at http://127.0.0.1:9 ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def our_exception_types() -> list[type[BaseException]]:
    found = {}
    for module in pkgutil.walk_packages({{ cookiecutter.package_name }}.__path__, f"{PACKAGE}."):
        if module.name.endswith("__main__"):
            continue
        loaded = importlib.import_module(module.name)
        for _, value in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith(PACKAGE):
                found[value.__qualname__] = value
    return list(found.values())


# Exceptions that never reach a command line: HTTP answers inside the service, the
# request log's signal to its writer thread, and a step's tampering check (Bundle.load
# turns it into UntrustedBundle, exit 2).
INTERNAL = {"BodyTooLarge", "BodyTooSlow", "LostRows", "TamperedModel", "TamperedBooster"}


def test_every_error_of_ours_is_a_coldstart_error_with_a_documented_exit_code():
    types = [kind for kind in our_exception_types() if kind.__name__ not in INTERNAL]
    assert len(types) >= 8
    for kind in types:
        assert issubclass(kind, ColdstartError), kind
        assert kind.exit_code in (1, 2), kind


def test_no_library_code_exits_the_process():
    """Only cli.run decides how a command ends: library code raises an error instead."""
    exits = re.compile(r"\braise SystemExit\b|\bsys\.exit\(|\bos\._exit\(")
    for path in SOURCE.rglob("*.py"):
        if path.name == "cli.py":
            continue
        code = path.read_text()
        # deploy/releases.py's READY_CHECK is a script run inside the container, not ours.
        code = re.sub(r'READY_CHECK = """.*?"""', "", code, flags=re.S)
        assert not exits.search(code), path


def test_every_make_facing_command_goes_through_cli_run():
    for path in SOURCE.rglob("*.py"):
        code = path.read_text()
        if 'if __name__ == "__main__":' in code:
            main = code.split('if __name__ == "__main__":', 1)[1]
            assert "cli.run(" in main, path
            assert "argparse" not in code, path


def test_the_benchmarks_take_their_options_in_the_same_style():
    """make bench's scripts are typer commands too: one way to spell an option and --help."""
    scripts = sorted((ROOT / "bench").glob("bench_*.py"))
    assert scripts
    for path in scripts:
        code = path.read_text()
        assert "argparse" not in code, path
        assert "typer.run(command)" in code.split('if __name__ == "__main__":', 1)[1], path


def make_help() -> str:
    make = subprocess.run(["make", "--version"], capture_output=True)
    if make.returncode != 0:
        pytest.skip("make is not installed")
    return subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"NO_COLOR": "1"},
        check=True,
    ).stdout


def test_make_help_starts_with_where_to_start_and_groups_by_stage_in_the_readme_order():
    said = make_help()
    lines = said.splitlines()
    assert lines[0].startswith("Start here: make setup, make data, make train, make serve")
    groups = [line.rstrip(":") for line in lines if line and not line.startswith(" ")][1:]
    readme = (ROOT / "README.md").read_text()
    assert groups[:3] == ["Set up", "Data", "Train"], groups
    assert "Serve" in groups and "Check" in groups
    # Every target is listed once, under a group.
    targets = re.findall(r"^  (\S+) ", said, re.M)
    assert len(targets) == len(set(targets)) and "train" in targets and "lint" in targets
    # In the README, each group's first command appears in that order too.
    firsts = []
    for line in lines[1:]:
        if line and not line.startswith(" "):
            firsts.append(None)
        elif firsts and firsts[-1] is None:
            firsts[-1] = line.split()[0]
    positions = [readme.find(f"make {target}") for target in firsts]
    assert all(position >= 0 for position in positions), dict(zip(firsts, positions, strict=True))
    assert positions[:3] == sorted(positions[:3]), dict(zip(firsts, positions, strict=True))


def test_make_help_into_a_pipe_is_plain_text_with_the_settings_in_force():
    """Read by a script or a pager: no colour codes off a terminal, $(PORT) as set now, and
    every name apart from its description (practice-vm-stop is the longest)."""
    make_help()  # skips where make is missing
    said = subprocess.run(
        ["make", "--no-print-directory", "help", "PORT=8123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={key: value for key, value in os.environ.items() if key != "NO_COLOR"},
        check=True,
    ).stdout
    assert "\x1b[" not in said and "$(" not in said
    assert "http://127.0.0.1:8123" in said
    described = [line for line in said.splitlines() if line.startswith("  ")]
    assert described and all(len(line.split(maxsplit=1)) == 2 for line in described)


def test_port_and_host_in_env_move_every_command_that_uses_them_and_the_environment_wins(
    tmp_path,
):
    """make passes HOST and PORT on to serve, predict, docker-run and tunnel: the values it
    passes are those the service would read itself (.env under the environment)."""
    make_help()  # skips where make is missing
    (tmp_path / ".env").write_text('PORT="8123"   # my port\nHOST=0.0.0.0\n')
    env = {key: value for key, value in os.environ.items() if key not in ("PORT", "HOST")}

    def dry_run(*args: str, **extra: str) -> str:
        command = ["make", "--no-print-directory", "-n", "-f", str(ROOT / "Makefile"), *args]
        done = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, env=env | extra, check=True
        )
        return done.stdout

    assert "HOST=0.0.0.0 PORT=8123" in dry_run("serve")
    assert "--url http://0.0.0.0:8123" in dry_run("predict")
    assert "PORT=9001" in dry_run("serve", PORT="9001")  # the environment wins over .env
    assert "PORT=9002" in dry_run("serve", "PORT=9002")  # and the command line over both
    (tmp_path / ".env").unlink()
    assert "HOST=127.0.0.1 PORT=8000" in dry_run("serve")


def test_a_taken_port_is_one_line_before_the_model_loads(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", f"{PACKAGE}.serve"],
            cwd=tmp_path,  # no model here: it must not get that far
            env=os.environ | {"PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "warning"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: Cannot listen on 127.0.0.1:{port}")
    assert f"make serve PORT={port + 1}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_make_settings_doc_writes_the_page_from_env_example(tmp_path):
    make_help()  # skips where make is missing
    (tmp_path / "docs").mkdir()
    (tmp_path / ".env.example").write_text(
        "# --- Serving (serve/settings.py) ---\n# PORT=8000  # where\n"
    )
    done = subprocess.run(
        ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "settings-doc"],
        cwd=tmp_path,
        env=os.environ | {"PY": sys.executable, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Wrote docs/settings.md" in done.stdout
    assert "| `PORT` | `8000` | where |" in (tmp_path / "docs" / "settings.md").read_text()
