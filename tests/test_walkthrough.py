"""The learner's path: every command the generated README and its docs/ name exists, and a
test runs it."""

import importlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from .conftest import MEASUREMENTS, TEMPLATE, bake, project_env, require, run_in
from .harness.sshd import free_port

# Each `make` command the generated README (or a docs/ page) names -> the test that runs it.
EXERCISED = {
    "setup": "test_walkthrough::test_make_setup_then_its_fast_tests",
    "help": "test_bake::test_make_help_lists_every_target",
    "data": "test_generated::test_make_data_report_and_train",
    "data-report": "test_generated::test_make_data_report_and_train",
    "train": "test_generated::test_train_on_your_own_csv",
    "mlflow-ui": "test_walkthrough::test_make_mlflow_ui",
    "serve": "test_walkthrough::test_make_serve_and_predict",
    "predict": "test_walkthrough::test_make_serve_and_predict",
    "docker-build": "test_walkthrough::test_make_docker_build_and_run",
    "docker-run": "test_walkthrough::test_make_docker_build_and_run",
    "docker-smoke": "test_container::test_make_docker_smoke",
    "bench": "test_walkthrough::test_make_bench",
    "bench-peers": "test_walkthrough::test_make_bench_peers",
    "bench-image": "test_walkthrough::test_make_bench_image",
    "test": "test_generated::test_generated_test_suite_passes",
    "test-fast": "test_walkthrough::test_make_setup_then_its_fast_tests",
    "lint": "test_walkthrough::test_make_lint",
    "format": "test_walkthrough::test_make_lint",
    "deploy": "test_deploy_ssh::test_deploy_to_an_empty_host_then_predict_through_the_tunnel",
    "status": "test_deploy_ssh::test_status_and_logs",
    "logs": "test_deploy_ssh::test_status_and_logs",
    "rollback": "test_deploy_ssh::test_second_release_broken_release_and_rollback",
    "destroy": "test_deploy_aws::test_aws_deploy_ignores_a_stale_ssh_host_then_plain_destroy_from_another_region",
    "ssh": "test_deploy_ssh::test_make_ssh_lands_on_the_vm",
    "tunnel": "test_deploy_ssh::test_deploy_to_an_empty_host_then_predict_through_the_tunnel",
    "extend": "test_deploy_aws::test_make_extend_without_an_instance_is_a_clear_error",
    "push": "test_kubernetes::test_push_tags_with_model_version_and_commit",
    "k8s": "test_kubernetes::test_manifests_carry_the_pushed_image",
    "k8s-apply": "test_kubernetes::test_cluster_commands_say_when_none_is_configured",
    "k8s-status": "test_kubernetes::test_cluster_commands_say_when_none_is_configured",
    "k8s-delete": "test_kubernetes::test_cluster_commands_say_when_none_is_configured",
    "k8s-measure": "test_kubernetes::test_measured_use_fits_the_manifest_limits",
    "monitor": "test_monitor_deployed::test_make_monitor_fetches_the_deployed_log_and_reports",
    "drift-demo": "test_monitor_deployed::test_make_monitor_fetches_the_deployed_log_and_reports",
    # The generated project's tests/test_clean.py runs `make clean` on a used project's layout.
    "clean": "test_generated::test_generated_test_suite_passes",
    # tests/test_cli.py runs `make settings-doc` on an .env.example of its own.
    "settings-doc": "test_generated::test_generated_test_suite_passes",
    # tests/test_audit.py runs `make audit`'s module against a vulnerability server on 127.0.0.1.
    "audit": "test_generated::test_generated_test_suite_passes",
    # tests/data/test_collect.py runs `make collect` against its own server, then `make train`.
    "collect": "test_generated::test_generated_test_suite_passes",
    "practice-vm": "test_practice_vm::test_the_readme_deploy_section_runs_on_the_practice_vm_then_stop_leaves_nothing",
    "practice-vm-stop": "test_practice_vm::test_the_readme_deploy_section_runs_on_the_practice_vm_then_stop_leaves_nothing",
}
OPTIONS = [
    {"deploy_target": "both"},
    {"deploy_target": "none", "include_github_actions": "no"},
    {"task": "regression"},
    {"model": "xgboost"},  # its README part
]


def makefile_targets(project) -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (project / "Makefile").read_text(), re.M))


def readme_commands(project) -> set[str]:
    """The README and the docs/ pages it links: a command moved to a doc is still a promise."""
    pages = [project / "README.md", *sorted((project / "docs").glob("*.md"))]
    return {
        command
        for page in pages
        for command in re.findall(r"`make ([a-z][a-z0-9-]*)", page.read_text())
    }


@pytest.mark.parametrize("context", OPTIONS, ids=lambda c: "-".join(c.values()))
def test_readme_commands_exist_and_are_exercised(tmp_path, context):
    project = bake(tmp_path, **context)
    commands = readme_commands(project)
    assert commands, "the README names no command"
    assert commands <= makefile_targets(project), commands - makefile_targets(project)
    assert commands <= set(EXERCISED), f"not run by any test: {commands - set(EXERCISED)}"


def test_every_mapped_test_exists():
    for target, reference in EXERCISED.items():
        module, name = reference.split("::")
        assert hasattr(importlib.import_module(f"tests.{module}"), name), (
            f"{target}: {reference} is missing"
        )


def test_readme_walks_the_whole_path_in_order(default_project):
    text = (default_project / "README.md").read_text()
    steps = ["make setup", "make data", "make data-report", "make train", "make mlflow-ui", "make serve",
             "make predict", "make docker-build", "make docker-smoke", "make deploy", "make status",
             "make logs", "make rollback", "make destroy"]  # fmt: skip
    headings = [line for line in text.splitlines() if re.match(r"## \d+\. ", line)]
    assert [h.split(".")[0] for h in headings] == [f"## {n}" for n in range(1, 7)]
    position = 0
    for step in steps:  # each step is explained after the one before it
        position = text.index(step, position)
    for section in ("Bring your own CSV", "Troubleshooting", "Exercises"):
        assert section in text


def test_workflow_parses_pins_actions_and_uses_existing_targets(default_project):
    workflow = yaml.safe_load((default_project / ".github" / "workflows" / "ci.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    for step in steps:
        if "uses" in step:
            assert re.search(r"@v\d+\.\d+\.\d+$", step["uses"]), (
                f"{step['uses']}: pin an exact version"
            )
    commands = [
        m for step in steps if "run" in step for m in re.findall(r"make ([a-z-]+)", step["run"])
    ]
    assert {"lint", "audit", "test", "train", "docker-smoke"} <= set(commands)
    assert set(commands) <= makefile_targets(default_project)


def test_pre_commit_config_runs_ruff(default_project):
    config = yaml.safe_load((default_project / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format", "detect-private-key"} <= hooks


def test_cruft_create_records_the_template(tmp_path):
    cruft = shutil.which("cruft") or str(Path(sys.executable).parent / "cruft")
    require(os.path.exists(cruft), "cruft is not installed")
    require((TEMPLATE / ".git").exists(), "the template is not a git checkout")
    result = subprocess.run(
        [cruft, "create", str(TEMPLATE), "--no-input", "--output-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((tmp_path / "churn-predictor" / ".cruft.json").read_text())
    assert record["template"] == str(TEMPLATE) and len(record["commit"]) == 40
    assert record["context"]["cookiecutter"]["package_name"] == "churn_predictor"


# --- the commands, run as a learner runs them ---------------------------------------------------


def in_background(project, *command: str, env: dict | None = None) -> subprocess.Popen:
    """Start a long-running make target in its own process group, so stopping it stops all."""
    return subprocess.Popen(
        command, cwd=project, env=project_env(project) | (env or {}),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


def stop_group(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output


def processes_with(variable: str, prefix: str) -> list[str]:
    """The running processes whose environment sets `variable` to a value starting with
    `prefix`: their pids and command lines (Linux; none found elsewhere)."""
    found, wanted = [], f"{variable}={prefix}".encode()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:  # a zombie's environment reads empty; one that just exited, not at all
            if any(item.startswith(wanted) for item in environ.read_bytes().split(b"\0")):
                command = (environ.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                found.append(f"{environ.parent.name}: {command.decode(errors='replace')}")
        except OSError:
            continue
    return found


def wait_http(url: str, process: subprocess.Popen, timeout: float = 90) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited early:\n{process.stdout.read()}"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return response.read()
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(url)


pytest_slow = pytest.mark.slow


@pytest_slow
def test_make_setup_then_its_fast_tests(tmp_path):
    """`make setup` from nothing (pip into .venv), then the project's own fast tests in it."""
    project = bake(tmp_path)
    started = time.monotonic()
    result = run_in(project, "make", "setup", timeout=1200, env={"PYTHONPATH": ""})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    MEASUREMENTS["make setup (fresh .venv, pip)"] = f"{time.monotonic() - started:.0f}s"
    # Every test module, and so what each imports, loads in the fresh .venv alone.
    collected = run_in(
        project, ".venv/bin/python", "-m", "pytest", "--collect-only", "-q",
        env={"PYTHONPATH": ""},
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    assert int(re.search(r"(\d+) tests? collected", collected.stdout).group(1)) > 300
    # The whole fast suite ran in test_generated's default bake; here a part of it shows that
    # `make test-fast` runs in the .venv `make setup` made.
    part = "tests/test_cli.py tests/serve/test_app.py tests/data/test_load.py"
    result = run_in(
        project, "make", "test-fast", timeout=900, env={"PYTHONPATH": "", "PYTEST_ADDOPTS": part}
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout


@pytest_slow
def test_make_lint(tmp_path):
    project = bake(tmp_path, deploy_target="both")
    (project / "src" / "churn_predictor" / "extra.py").write_text("import os\nx=1\n")
    assert run_in(project, "make", "lint", f"PY={sys.executable}").returncode != 0
    assert run_in(project, "make", "format", f"PY={sys.executable}").returncode == 0
    result = run_in(project, "make", "lint", f"PY={sys.executable}")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest_slow
def test_make_serve_and_predict(shipped_project):
    port = free_port()
    server = in_background(shipped_project, "make", "serve", f"PY={sys.executable}", f"PORT={port}")
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", server)
        result = run_in(shipped_project, "make", "predict", f"PY={sys.executable}", f"PORT={port}")
        assert result.returncode == 0, result.stderr
        assert '"prediction"' in result.stdout
        docs = urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=5).read().decode()
        assert "swagger" in docs.lower()
    finally:
        output = stop_group(server)
    assert "Serving churn-predictor v1 from models/churn-predictor" in output


@pytest_slow
def test_make_mlflow_ui(shipped_project):
    port = free_port()
    ui = in_background(
        shipped_project, "make", "mlflow-ui", f"PY={sys.executable}", f"MLFLOW_PORT={port}"
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", ui, timeout=120)
        body = urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/registered-models/search", timeout=10
        ).read()
        names = [model["name"] for model in json.loads(body)["registered_models"]]
        assert "churn-predictor" in names, "the UI shows the registered model"
    finally:
        stop_group(ui)


@pytest_slow
def test_make_docker_build_and_run(shipped_project, docker_engine):
    env = {"DOCKER_HOST": docker_engine.url}
    result = run_in(shipped_project, "make", "docker-build", f"PY={sys.executable}", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    port = free_port()
    result = run_in(
        shipped_project, "make", "docker-run", f"PY={sys.executable}", f"PORT={port}", env=env
    )
    try:
        assert result.returncode == 0, result.stderr
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/readyz", timeout=3
                ) as response:
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("the container never answered /readyz")
    finally:
        docker_engine.client().containers.get("churn-predictor").remove(force=True)


@pytest_slow
def test_make_bench(shipped_project):
    """The benchmark runs (one quick round) and writes its figures and ratios as JSON."""
    result = run_in(
        shipped_project, "make", "bench", f"PY={sys.executable}", "BENCH_RUNS=1",
        "BENCH_FLAGS=--quick", "BENCH_TRAIN_FLAGS=--long-rows 20000", timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "make train: median" in result.stdout
    assert "long: " in result.stdout and "20,000 rows, the target is for 200,000" in result.stdout
    assert "service / floor" in result.stdout and "Goals" in result.stdout
    report = json.loads((shipped_project / "reports" / "bench.json").read_text())
    assert set(report["targets"]) == {
        "bare ASGI", "coldstart", "coldstart tuned (LOG_LEVEL=warning)", "coldstart WORKERS=2",
        "mlflow models serve",
    }  # fmt: skip
    for target in report["targets"].values():
        assert all(point["errors"] == 0 for point in target["points"].values())
    # Measured as the image and k8s/ run it; every answer checked; no access line lost.
    assert report["target_settings"]["coldstart"] == {
        "LOG_LEVEL": "info", "LOG_PREDICTIONS": "true", "WORKERS": "1",
    }  # fmt: skip
    assert set(report["answers_checked"].values()) == {"equal"}
    logged = report["access_log"]
    assert logged["access_lines"] == logged["requests_counted"] + 1  # + the /metrics request
    assert len(report["worker_cpu_s"]["coldstart WORKERS=2"]) >= 2  # each worker's share
    ratios = report["ratios"]
    MEASUREMENTS["service vs mlflow models serve, req/s at 16 connections (1 s, one round)"] = (
        f"{ratios['service / mlflow models serve req/s, predict_c16']:.1f}x"
    )
    MEASUREMENTS["service vs its stack's floor, 16 connections (1 s, one round)"] = (
        f"{ratios['service / floor, 16 connections']:.2f}"
    )


@pytest_slow
def test_make_bench_peers(shipped_project):
    """BentoML and LitServe, installed into build/bench-venv only, give our answers and are
    measured beside the service; the project's own environment never gets them."""
    result = run_in(
        shipped_project, "make", "bench-peers", f"PY={sys.executable}",
        "BENCH_FLAGS=--quick --skip-mlflow", timeout=1500,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((shipped_project / "reports" / "bench.json").read_text())
    peers = {"BentoML pipeline", "BentoML ONNX", "BentoML ONNX tuned", "LitServe ONNX"}
    assert peers <= set(report["answers_checked"])
    assert set(report["answers_checked"].values()) == {"equal"}
    assert (shipped_project / "build" / "bench-venv" / "bin" / "bentoml").exists()
    assert importlib.util.find_spec("bentoml") is None  # not in the project's environment
    # Every peer stopped with the processes it spawned (LitServe's and BentoML's workers):
    # all of them carry PEER_BUNDLE in their environment.
    assert not processes_with("PEER_BUNDLE", str(shipped_project.resolve()))
    ratios = report["ratios"]
    MEASUREMENTS["service vs LitServe ONNX, req/s at 16 connections (1 s, one round)"] = (
        f"{ratios['service / LitServe ONNX req/s, predict_c16']:.1f}x"
    )


@pytest_slow
def test_make_bench_image(shipped_project, docker_engine):
    result = run_in(
        shipped_project, "make", "bench-image", f"PY={sys.executable}", "BENCH_FLAGS=--quick",
        env={"DOCKER_HOST": docker_engine.url}, timeout=1500,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ratio = re.search(r"ratio: ours / mlflow = ([\d.]+)", result.stdout).group(1)
    ours = re.search(r"this project:\s+(\d+) MB", result.stdout).group(1)
    theirs = re.search(r"mlflow build-docker:\s+(\d+) MB", result.stdout).group(1)
    MEASUREMENTS["image size vs mlflow build-docker"] = f"{ours} MB vs {theirs} MB (ratio {ratio})"
    # Then the image itself was benchmarked: started, loaded, its memory read.
    image = json.loads((shipped_project / "reports" / "bench.json").read_text())["targets"]["image"]
    assert all(point["errors"] == 0 for point in image["points"].values())
    MEASUREMENTS["image: cold start to ready, memory per worker"] = (
        f"{image['cold_start_s']:.2f} s, {image['memory_per_worker_mb']:.0f} MB"
    )


@pytest_slow
def test_make_demo_in_the_template():
    """The README's first command: bake, train, serve, predict, stop."""
    result = subprocess.run(
        ["make", "demo", f"VENV={Path(sys.executable).parent.parent}"],
        cwd=TEMPLATE, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert '"prediction"' in result.stdout and "==> Done." in result.stdout


def test_collect_workflow_is_scheduled_pinned_and_commits_only_manifests(default_project):
    text = (default_project / ".github" / "workflows" / "collect.yml").read_text()
    workflow = yaml.safe_load(text)
    assert workflow[True]["schedule"][0]["cron"]  # YAML reads the key `on` as True
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    for step in steps:
        if "uses" in step:
            assert re.search(r"@v\d+\.\d+\.\d+$", step["uses"]), step["uses"]
    runs = " ".join(step.get("run", "") for step in steps)
    assert "make collect" in runs and "collect" in makefile_targets(default_project)
    assert 'git add --force "${manifests[@]}"' in runs and "data/collected/*.manifest.json" in runs
    assert workflow["jobs"]["collect"]["env"]["COLLECT_CACHE_TTL_S"] == "0"
