"""`make practice-vm`: the deploy section (README step 6, docs/deploy.md), command by command,
on the practice VM.

The practice VM is a container on the tests' Docker engine with its own sshd and its
own empty engine (Docker in Docker), made from the generated project's practice-vm/.
Nothing else is set up for the deploy: no DEPLOY_SSH_* variables, only what
`make practice-vm` writes to .practice-vm/deploy.env. Its own project (another name),
so its images and containers never meet the other deploy tests'.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import MEASUREMENTS, bake, project_env, run_in
from .harness.sshd import free_port

pytestmark = pytest.mark.slow
SLUG = "practice-churn"
VM = f"{SLUG}-practice-vm"
LABEL = f"io.coldstart.practice-vm={VM}"
API_KEY = "practice-key-5d1e9a70"
# A .env left from another machine: the practice VM's settings must win, and say so.
OLD_ENV = f"DEPLOY_SSH_HOST=127.0.0.2\nDEPLOY_SSH_PORT=9\nAPI_KEY={API_KEY}\n"


@pytest.fixture(scope="module")
def practice_project(tmp_path_factory, docker_engine, base_image):
    """A trained project of its own; no DEPLOY_ variable comes from the test's environment."""
    project = bake(tmp_path_factory.mktemp("practice"), project_name="Practice Churn")
    result = run_in(project, "make", "data", "train", f"PY={sys.executable}")
    assert result.returncode == 0, result.stderr[-3000:]
    (project / ".env").write_text(OLD_ENV)
    yield project
    # A failed test must not leave the VM behind: what `make practice-vm-stop` would remove.
    client = docker_engine.client()
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        container.remove(force=True)
    for kind in (client.networks, client.volumes):
        for thing in kind.list(filters={"label": LABEL}):
            thing.remove()


def environment(project: Path, docker_engine) -> dict[str, str]:
    """The project's environment without any DEPLOY_ variable (they would win over the file)."""
    env = {k: v for k, v in project_env(project).items() if not k.startswith("DEPLOY_")}
    return env | {"DOCKER_HOST": docker_engine.url}


def make(project: Path, docker_engine, *targets: str, **extra: str):
    return subprocess.run(
        ["make", *targets, f"PY={sys.executable}"],
        cwd=project, env=environment(project, docker_engine) | extra,
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def vm_engine(docker_engine, *command: str) -> str:
    """Ask the practice VM's own Docker engine (through the tests' engine, not SSH)."""
    container = docker_engine.client().containers.get(VM)
    result = container.exec_run(["docker", *command])
    assert result.exit_code == 0, result.output.decode()
    return result.output.decode().strip()


def live_version(docker_engine) -> str:
    label = '{{index .Config.Labels "org.opencontainers.image.version"}}'
    return vm_engine(docker_engine, "inspect", "--format", label, SLUG)


@contextlib.contextmanager
def tunnel(project: Path, docker_engine):
    """`make tunnel PORT=<free>`; yields the local port once /readyz answers through it."""
    local = free_port()
    process = subprocess.Popen(
        ["make", "tunnel", f"PY={sys.executable}", f"PORT={local}"],
        cwd=project, env=environment(project, docker_engine),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{local}/readyz", timeout=3):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the tunnel never forwarded /readyz"
                time.sleep(0.5)
        yield local
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def second_release(docker_engine, project: Path) -> str:
    """The built image as another model version: a second release to roll back from."""
    folder = project / "build" / "second"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(
        f'FROM {SLUG}:latest\nLABEL org.opencontainers.image.version="2"\n'
    )
    docker_engine.client().images.build(path=str(folder), tag=f"{SLUG}:second", rm=True)
    return f"{SLUG}:second"


def start_practice_vm(project: Path, docker_engine) -> None:
    started = time.monotonic()
    result = make(project, docker_engine, "practice-vm")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    MEASUREMENTS["practice VM start (make practice-vm, image built)"] = (
        f"{time.monotonic() - started:.0f}s"
    )
    out = " ".join(result.stdout.split())
    assert "Practice VM ready" in out and "Deploy settings: .practice-vm/deploy.env" in out
    assert "overrides .env's DEPLOY_SSH_HOST=127.0.0.2" in out
    assert "overrides .env's DEPLOY_SSH_PORT=9" in out
    image = docker_engine.client().images.get(f"{VM}:latest")
    MEASUREMENTS["practice VM image"] = f"{image.attrs['Size'] / 1e6:.0f} MB"
    base = docker_engine.client().images.get(base_image_of(project)).attrs["RootFS"]["Layers"]
    assert image.attrs["RootFS"]["Layers"][: len(base)] == base, "built FROM the service's base"


def base_image_of(project: Path) -> str:
    return re.search(r"^ARG BASE_IMAGE=(\S+)", (project / "Dockerfile").read_text(), re.M)[1]


def published_ssh_port(docker_engine) -> tuple[str, int]:
    container = docker_engine.client().containers.get(VM)
    binding = container.attrs["NetworkSettings"]["Ports"]["22/tcp"]
    return binding[0]["HostIp"], int(binding[0]["HostPort"])


def test_the_readme_deploy_section_runs_on_the_practice_vm_then_stop_leaves_nothing(
    practice_project, docker_engine
):
    project = practice_project
    start_practice_vm(project, docker_engine)
    assert published_ssh_port(docker_engine)[0] == "127.0.0.1", "this computer only"
    assert vm_engine(docker_engine, "images", "--quiet") == "", "its engine starts empty"
    known_hosts = (project / ".practice-vm" / "known_hosts").read_text()

    # Started again: the same VM, the same recorded host key (a fresh port is allowed).
    again = make(project, docker_engine, "practice-vm")
    assert again.returncode == 0 and "Practice VM ready" in again.stdout, again.stderr
    assert (project / ".practice-vm" / "known_hosts").read_text().split()[1:] == (
        known_hosts.split()[1:]
    )

    deploy = make(project, docker_engine, "deploy")
    assert deploy.returncode == 0, deploy.stdout[-4000:] + deploy.stderr[-4000:]
    said = " ".join(deploy.stdout.split())
    assert "Target: the practice VM on this computer" in said and "shipped in" in said
    assert f"{SLUG}:latest" in vm_engine(
        docker_engine, "images", "--format", "{{.Repository}}:{{.Tag}}"
    ), "the image travelled over SSH into the VM's own engine"

    status = make(project, docker_engine, "status")
    assert status.returncode == 0 and "healthy" in status.stdout, status.stderr
    logs = make(project, docker_engine, "logs")
    assert logs.returncode == 0 and "Application startup complete" in logs.stdout, logs.stderr

    # As on a rented VM: the key is a mounted file, never in the container's settings.
    inspected = vm_engine(docker_engine, "inspect", SLUG)
    assert API_KEY not in inspected, "the API key shows in docker inspect"
    shell = subprocess.run(
        ["make", "ssh", f"PY={sys.executable}"], input="docker ps --format '{{.Names}}'\n",
        cwd=project, env=environment(project, docker_engine),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shell.returncode == 0 and SLUG in shell.stdout.split(), shell.stderr

    with tunnel(project, docker_engine) as local:
        predict = make(project, docker_engine, "predict", PORT=str(local))
        assert predict.returncode == 0, predict.stdout + predict.stderr
        assert json.loads(predict.stdout.split("Answer:", 1)[1])["model_version"] == "1"
        example = json.loads((project / "models" / SLUG / "input_example.json").read_text())[0]
        request = urllib.request.Request(
            f"http://127.0.0.1:{local}/predict", data=json.dumps(example).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as without_key:
            urllib.request.urlopen(request, timeout=10)
        assert without_key.value.code == 401, "the deployed service answered without the key"

    monitor = make(project, docker_engine, "monitor")
    assert "Fetched 1 log file(s) from 127.0.0.1" in " ".join(monitor.stdout.split()), (
        monitor.stdout + monitor.stderr
    )

    second = make(
        project, docker_engine, "deploy", DEPLOY_IMAGE=second_release(docker_engine, project)
    )
    assert second.returncode == 0 and live_version(docker_engine) == "2", second.stderr[-3000:]
    rollback = make(project, docker_engine, "rollback")
    assert rollback.returncode == 0 and live_version(docker_engine) == "1", rollback.stderr

    destroy = make(project, docker_engine, "destroy")
    assert destroy.returncode == 0 and f"removed container {SLUG}" in destroy.stdout
    assert vm_engine(docker_engine, "ps", "--all", "--quiet") == ""

    stop = make(project, docker_engine, "practice-vm-stop")
    assert stop.returncode == 0, stop.stderr
    said = " ".join(stop.stdout.split())
    for thing in (f"container {VM}", f"network {VM}", f"volume {VM}-docker", f"image {VM}:latest",
                  ".practice-vm/"):  # fmt: skip
        assert f"removed {thing}" in said, said
    client = docker_engine.client()
    assert client.containers.list(all=True, filters={"label": LABEL}) == []
    assert client.networks.list(filters={"label": LABEL}) == []
    assert client.volumes.list(filters={"label": LABEL}) == []
    assert client.images.list(filters={"label": LABEL}) == []
    assert not (project / ".practice-vm").exists()
    assert (project / ".env").read_text() == OLD_ENV, "the person's own .env is untouched"
    nothing = make(project, docker_engine, "practice-vm-stop")
    assert nothing.returncode == 0 and "Nothing to remove" in nothing.stdout
