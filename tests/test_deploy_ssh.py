"""`make deploy` to a real sshd on 127.0.0.1 with a real Docker engine behind it.

Deploy, predict through the host, redeploy (no-op), ship a second release,
ship a broken one (refused; the live one keeps serving), roll back, look at
status and logs, refuse an unknown host key, destroy.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from .conftest import MEASUREMENTS, project_env, run_in
from .harness.sshd import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deploy_env(sshd, docker_engine):
    return sshd.env() | {
        "DOCKER_HOST": docker_engine.url,
        "DEPLOY_REMOTE_PORT": str(free_port()),
        "DEPLOY_HEALTH_TIMEOUT": "90",
    }


def make(project, env, *targets: str, **extra_env: str):
    return run_in(
        project, "make", *targets, f"PY={sys.executable}", "TARGET=ssh", env=env | extra_env
    )


def predict(env, project) -> dict:
    example = json.loads(
        (project / "models" / "churn-predictor" / "input_example.json").read_text()
    )[0]
    request = urllib.request.Request(
        f"http://127.0.0.1:{env['DEPLOY_REMOTE_PORT']}/predict",
        json.dumps(example).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def derived_image(docker_engine, project, tag: str, dockerfile_lines: list[str]) -> str:
    """A new release made from the built image (another version, or a broken model)."""
    folder = project / "build" / tag.replace(":", "-")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(
        "\n".join(["FROM churn-predictor:latest", *dockerfile_lines]) + "\n"
    )
    docker_engine.client().images.build(path=str(folder), tag=tag, rm=True)
    return tag


def live_version(docker_engine) -> str:
    container = docker_engine.client().containers.get("churn-predictor")
    return container.labels["org.opencontainers.image.version"]


def test_deploy_then_predict_through_the_host(shipped_project, deploy_env):
    started = time.monotonic()
    result = make(shipped_project, deploy_env, "deploy")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    MEASUREMENTS["ssh deploy (loopback, image cached)"] = f"{time.monotonic() - started:.0f}s"
    assert "Live:" in result.stdout and "answers /readyz" in result.stdout
    # Which model it ships: said by the image build, then by the deploy itself.
    assert "Model: churn-predictor v1" in result.stdout
    assert "model churn-predictor v1" in result.stdout
    assert predict(deploy_env, shipped_project)["model_version"] == "1"


def test_redeploying_the_same_image_is_a_no_op(shipped_project, deploy_env):
    result = make(shipped_project, deploy_env, "deploy")
    assert result.returncode == 0 and "Nothing to do." in result.stdout


def test_second_release_broken_release_and_rollback(shipped_project, deploy_env, docker_engine):
    second = derived_image(
        docker_engine,
        shipped_project,
        "churn-predictor:second",
        ['LABEL org.opencontainers.image.version="2"'],
    )
    result = make(shipped_project, deploy_env, "deploy", DEPLOY_IMAGE=second)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert live_version(docker_engine) == "2"

    # A release whose model cannot load (neither the ONNX graph nor the pipeline):
    # /livez is fine, /readyz is not.
    broken = derived_image(
        docker_engine, shipped_project, "churn-predictor:broken",
        ["USER root", "RUN echo broken > /app/model/model.onnx && echo broken > /app/model/pipeline.skops", "USER 10001:10001",
         'LABEL org.opencontainers.image.version="3"'],
    )  # fmt: skip
    result = make(shipped_project, deploy_env, "deploy", DEPLOY_IMAGE=broken)
    assert result.returncode != 0
    assert "The new release failed" in result.stderr and "v2" in result.stderr
    assert live_version(docker_engine) == "2", "the good release keeps serving"
    assert predict(deploy_env, shipped_project)["model_version"] == "1"  # the bundle inside is v1
    assert "churn-predictor-candidate" not in [
        c.name for c in docker_engine.client().containers.list(all=True)
    ]

    started = time.monotonic()
    result = make(shipped_project, deploy_env, "rollback")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    MEASUREMENTS["rollback (loopback)"] = f"{time.monotonic() - started:.0f}s"
    assert live_version(docker_engine) == "1"
    assert predict(deploy_env, shipped_project)["prediction"] in ("yes", "no")


def test_status_and_logs(shipped_project, deploy_env):
    status = make(shipped_project, deploy_env, "status")
    assert status.returncode == 0 and "churn-predictor-previous" in status.stdout
    assert "healthy" in status.stdout
    logs = make(shipped_project, deploy_env, "logs")
    assert logs.returncode == 0 and "Application startup complete" in logs.stdout


def test_make_ssh_and_tunnel(shipped_project, deploy_env):
    # `make ssh` opens a shell on the host; fed from a pipe, it runs what it reads.
    shell = subprocess.run(
        ["make", "ssh", f"PY={sys.executable}", "TARGET=ssh"],
        input="docker ps --format '{{.Names}}'\n",
        cwd=shipped_project, env=project_env(shipped_project) | deploy_env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shell.returncode == 0, shell.stderr
    assert "churn-predictor" in shell.stdout.split()
    local = free_port()
    tunnel = subprocess.Popen(
        ["make", "tunnel", f"PY={sys.executable}", "TARGET=ssh", f"PORT={local}"],
        cwd=shipped_project, env=project_env(shipped_project) | deploy_env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{local}/readyz", timeout=3
                ) as response:
                    assert json.load(response)["status"] == "ready"
                    break
            except OSError:
                assert time.monotonic() < deadline, "the tunnel never forwarded /readyz"
                time.sleep(0.5)
    finally:
        os.killpg(tunnel.pid, signal.SIGTERM)
        tunnel.wait(timeout=20)


def test_unknown_host_key_is_refused(shipped_project, deploy_env, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    result = make(shipped_project, deploy_env, "status", DEPLOY_KNOWN_HOSTS=str(empty))
    assert result.returncode != 0
    assert "host key" in result.stderr and "ssh-keyscan" in result.stderr


def test_destroy_removes_every_release(shipped_project, deploy_env, docker_engine):
    result = make(shipped_project, deploy_env, "destroy")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "removed container churn-predictor" in result.stdout
    left = docker_engine.client().containers.list(
        all=True, filters={"label": "io.coldstart.app=churn-predictor"}
    )
    assert left == []
