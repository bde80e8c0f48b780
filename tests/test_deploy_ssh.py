"""`make deploy` to a separate host: its own network namespace, sshd and empty Docker engine.

The image is built on the tests' engine here and must travel over SSH (the VM's
engine starts empty, without even the base image); the service listens on the
VM's 127.0.0.1 and is reached only through `make tunnel`. Deploy, rotate the API
key (a new release; the old key gets 401), ship a second release and a broken
one, roll back, status and logs, a host whose Docker is down, an unknown host
key, destroy. `ps` never shows the key (the VM shares this machine's process
table: one `ps` sees both sides).

Every test stands alone (`pytest tests/test_deploy_ssh.py::<test>`): what it needs on the
host (a live release, a rotated key, a previous release) comes from a fixture that reuses
what is live when it is already right, so the whole file does not deploy twice for nothing.
The module leaves nothing live nor recorded behind (another module's deploy, an AWS one
especially, refuses while .deploy/state.json records this one).
"""

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from docker.errors import NotFound

from .conftest import MEASUREMENTS, project_env, run_in
from .harness.sshd import free_port, start_sshd

pytestmark = pytest.mark.slow
FIRST_KEY, SECOND_KEY = "first-key-7f3a9c21", "second-key-0b8e44d6"
SECRETS = Path.home() / ".coldstart" / "churn-predictor"  # the VM's deploy user is this user


@pytest.fixture(scope="module")
def deploy_env(vm, docker_engine, shipped_project):
    env = vm.env() | {
        "DOCKER_HOST": docker_engine.url,  # where the image is built: here, not on the VM
        "DEPLOY_REMOTE_PORT": str(free_port()),
        "DEPLOY_HEALTH_TIMEOUT": "90",
        "API_KEY": FIRST_KEY,  # the service's one key, wherever it runs
    }
    yield env
    # Nothing of this module stays live or recorded: the next deploy test starts clean.
    result = make(shipped_project, env, "destroy", DESTROY_LOGS="1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def make(project, env, *targets: str, **extra_env: str):
    return run_in(
        project, "make", *targets, f"PY={sys.executable}", "DEPLOY_TARGET=ssh", env=env | extra_env
    )


def deployed(project, env, **extra_env: str):
    """What `make deploy` runs after its build (the session built the image): for fixtures.
    The deploy itself is a no-op when this image is live with these settings."""
    result = run_in(
        project, sys.executable, "-m", "churn_predictor.deploy", "deploy", "--target", "ssh",
        env=env | extra_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def on_the_vm(vm, name: str):
    """The container `name` on the VM's engine, or None."""
    try:
        return vm.client().containers.get(name)
    except NotFound:
        return None


@contextlib.contextmanager
def tunnel(project, env):
    """`make tunnel` to a free local port; yields the service's local URL."""
    local = free_port()
    process = subprocess.Popen(
        ["make", "tunnel", f"PY={sys.executable}", "DEPLOY_TARGET=ssh", f"PORT={local}"],
        cwd=project, env=project_env(project) | env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{local}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=3) as response:
                    assert json.load(response)["status"] == "ready"
                    break
            except OSError:
                assert time.monotonic() < deadline, "the tunnel never forwarded /readyz"
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def predict(project, url: str, key: str) -> tuple[int, dict]:
    example = json.loads(
        (project / "models" / "churn-predictor" / "input_example.json").read_text()
    )[0]
    request = urllib.request.Request(
        f"{url}/predict", json.dumps(example).encode(),
        {"Content-Type": "application/json", "X-API-Key": key},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, {}


@contextlib.contextmanager
def watching_ps(secret: str):
    """Sample every command line on this machine (and so on the VM) while the block runs."""
    seen, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            seen.extend(line for line in listing.splitlines() if secret in line)
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def derived_image(docker_engine, project, tag: str, dockerfile_lines: list[str]) -> str:
    """A new release made from the built image (another version, or a broken model)."""
    folder = project / "build" / tag.replace(":", "-")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(
        "\n".join(["FROM churn-predictor:latest", *dockerfile_lines]) + "\n"
    )
    docker_engine.client().images.build(path=str(folder), tag=tag, rm=True)
    return tag


def live_version(vm) -> str:
    container = vm.client().containers.get("churn-predictor")
    return container.labels["org.opencontainers.image.version"]


def refused(address: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(3)
        return sock.connect_ex((address, port)) != 0


@pytest.fixture
def empty_host(shipped_project, deploy_env, vm):
    """The VM as a fresh machine: whatever an earlier deploy left there is destroyed first."""
    client = vm.client()
    if client.containers.list(all=True) or client.images.list() or SECRETS.exists():
        result = make(shipped_project, deploy_env, "destroy", DESTROY_LOGS="1")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert client.images.list() == [], "the VM's engine starts empty (no base image)"


def test_deploy_to_an_empty_host_then_predict_through_the_tunnel(
    shipped_project, deploy_env, vm, empty_host
):
    started = time.monotonic()
    with watching_ps(FIRST_KEY) as leaks:
        result = make(shipped_project, deploy_env, "deploy")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    MEASUREMENTS["ssh deploy to the separate host (image shipped)"] = (
        f"{time.monotonic() - started:.0f}s"
    )
    assert "shipped in" in result.stdout and "Live:" in result.stdout
    # Which model it ships: said by the image build, then by the deploy itself.
    assert "Model: churn-predictor v1" in result.stdout
    assert "model churn-predictor v1" in result.stdout
    assert leaks == [], "the API key showed up in ps"
    port = int(deploy_env["DEPLOY_REMOTE_PORT"])
    assert refused(vm.address, port) and refused("127.0.0.1", port), "only the tunnel reaches it"
    with tunnel(shipped_project, deploy_env) as url:
        assert predict(shipped_project, url, FIRST_KEY)[1]["model_version"] == "1"
        assert predict(shipped_project, url, "wrong")[0] == 401
    files = list(SECRETS.glob("*.key"))
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o640
    assert files[0].read_text() == FIRST_KEY
    # A file mounted read-only, not an environment variable: `docker inspect` never shows it.
    assert FIRST_KEY not in json.dumps(vm.client().containers.get("churn-predictor").attrs)


@pytest.fixture
def live_release(shipped_project, deploy_env):
    """The built image live on the VM with deploy_env's settings (deployed now, if it was not)."""
    return deployed(shipped_project, deploy_env)


@pytest.fixture
def rotated_release(shipped_project, deploy_env):
    """The built image live with the second key (deployed now, if it was not)."""
    return deployed(shipped_project, deploy_env, API_KEY=SECOND_KEY)


@pytest.fixture
def running_release(shipped_project, deploy_env, vm):
    """A release running on the VM, whichever: the one live, else one deployed now."""
    live = on_the_vm(vm, "churn-predictor")
    if live is None or live.status != "running":
        deployed(shipped_project, deploy_env)


@pytest.fixture
def two_releases(shipped_project, deploy_env, vm):
    """A live release and a previous one on the VM: those there, else two deployed now."""
    live = on_the_vm(vm, "churn-predictor")
    if (
        live is None
        or live.status != "running"
        or on_the_vm(vm, "churn-predictor-previous") is None
    ):
        deployed(shipped_project, deploy_env)  # a no-op if this one was live
        if on_the_vm(vm, "churn-predictor-previous") is None:
            deployed(shipped_project, deploy_env, API_KEY=SECOND_KEY)  # another release


def test_same_image_and_settings_is_a_no_op(shipped_project, deploy_env, live_release):
    result = make(shipped_project, deploy_env, "deploy")
    assert result.returncode == 0 and "Nothing to do." in result.stdout


def test_a_release_runs_without_capabilities_and_with_memory_and_process_limits(vm, live_release):
    container = vm.client().containers.get("churn-predictor")
    host = container.attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    # container/limits.py's defaults: k8s/base/deployment.yaml's limits.memory, no swap.
    assert host["Memory"] == host["MemorySwap"] == 256 * 1024 * 1024
    assert host["PidsLimit"] == 256 and host["ReadonlyRootfs"]
    # The host's log folder is bounded by the service's own LOG_MAX_MB, passed explicitly.
    assert "LOG_MAX_MB=100" in container.attrs["Config"]["Env"]
    status = container.exec_run("cat /proc/1/status").output.decode()
    assert "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status


def test_monitor_fetches_no_link_planted_in_the_host_log_folder(
    shipped_project, deploy_env, live_release, tmp_path
):
    secret = tmp_path / "id_ed25519"
    secret.write_text("PRIVATE KEY of the deploy user")
    planted = SECRETS / "requests" / "requests.jsonl.9"  # as a compromised container could
    planted.symlink_to(secret)
    try:
        result = make(shipped_project, deploy_env, "monitor")
    finally:
        planted.unlink()
    assert "Skipped requests.jsonl.9 (a link)" in " ".join(result.stdout.split()), result.stdout
    fetched = shipped_project / "build" / "monitor" / "requests"
    assert fetched.is_dir() and "requests.jsonl.9" not in [p.name for p in fetched.iterdir()]
    assert not any("PRIVATE KEY" in p.read_text() for p in fetched.iterdir())


def test_rotating_the_api_key_redeploys_and_the_old_key_gets_401(
    shipped_project, deploy_env, live_release
):
    env = deploy_env | {"API_KEY": SECOND_KEY}
    with watching_ps(SECOND_KEY) as leaks:
        result = make(shipped_project, env, "deploy")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Nothing to do." not in result.stdout and leaks == []
    with tunnel(shipped_project, env) as url:
        assert predict(shipped_project, url, FIRST_KEY)[0] == 401
        assert predict(shipped_project, url, SECOND_KEY)[0] == 200
    # One secrets file per release on the host: live and previous (kept for rollback).
    assert len(list(SECRETS.glob("*.key"))) == 2


def test_second_release_broken_release_and_rollback(
    shipped_project, deploy_env, docker_engine, vm, rotated_release
):
    env = deploy_env | {"API_KEY": SECOND_KEY}
    second = derived_image(
        docker_engine, shipped_project, "churn-predictor:second",
        ['LABEL org.opencontainers.image.version="2"'],
    )  # fmt: skip
    result = make(shipped_project, env, "deploy", DEPLOY_IMAGE=second)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert live_version(vm) == "2"
    # The release before the first-key one is gone, and so is its secrets file.
    assert len(list(SECRETS.glob("*.key"))) == 2

    # A release whose model cannot load: /livez is fine, /readyz is not.
    broken = derived_image(
        docker_engine, shipped_project, "churn-predictor:broken",
        ["USER root", "RUN echo broken > /app/model/model.onnx && echo broken > /app/model/pipeline.skops", "USER 10001:10001",
         'LABEL org.opencontainers.image.version="3"'],
    )  # fmt: skip
    result = make(shipped_project, env, "deploy", DEPLOY_IMAGE=broken)
    assert result.returncode != 0
    assert "The new release failed" in result.stderr and "v2" in result.stderr
    assert live_version(vm) == "2", "the good release keeps serving"
    assert "churn-predictor-candidate" not in [
        c.name for c in vm.client().containers.list(all=True)
    ]

    started = time.monotonic()
    result = make(shipped_project, env, "rollback")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    MEASUREMENTS["rollback on the separate host"] = f"{time.monotonic() - started:.0f}s"
    assert live_version(vm) == "1"
    with tunnel(shipped_project, env) as url:
        assert predict(shipped_project, url, SECOND_KEY)[1]["prediction"] in ("yes", "no")


def test_status_and_logs(shipped_project, deploy_env, two_releases):
    status = make(shipped_project, deploy_env, "status")
    assert status.returncode == 0 and "churn-predictor-previous" in status.stdout
    assert "healthy" in status.stdout
    logs = make(shipped_project, deploy_env, "logs")
    assert logs.returncode == 0 and "Application startup complete" in logs.stdout


def test_status_says_when_docker_on_the_host_is_down(shipped_project, tmp_path):
    host = start_sshd(tmp_path / "sshd", f"unix://{tmp_path / 'no-docker.sock'}")
    try:
        result = make(shipped_project, host.env(), "status")
    finally:
        host.stop()
    assert result.returncode != 0
    assert "Docker on 127.0.0.1 is unreachable" in " ".join(result.stderr.split())
    assert "Nothing deployed" not in result.stdout


def test_make_ssh_lands_on_the_vm(shipped_project, deploy_env, vm, running_release):
    shell = subprocess.run(
        ["make", "ssh", f"PY={sys.executable}", "DEPLOY_TARGET=ssh"],
        input="docker ps --format '{{.Names}}'; ip -4 -o addr show\n",
        cwd=shipped_project, env=project_env(shipped_project) | deploy_env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shell.returncode == 0, shell.stderr
    assert "churn-predictor" in shell.stdout.split() and vm.address in shell.stdout


def test_unknown_host_key_is_refused(shipped_project, deploy_env, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    result = make(shipped_project, deploy_env, "status", DEPLOY_KNOWN_HOSTS=str(empty))
    assert result.returncode != 0
    assert "host key" in result.stderr and "ssh-keyscan" in result.stderr


def test_make_deploy_model_uri_ships_that_models_image(
    shipped_project, deploy_env, docker_engine, vm, tmp_path
):
    """`make deploy MODEL_URI=<another bundle>` builds that model's own image and ships it."""
    other = tmp_path / "second-model"
    shutil.copytree((shipped_project / "models" / "churn-predictor").resolve(), other)
    metadata = json.loads((other / "metadata.json").read_text())
    (other / "metadata.json").write_text(json.dumps(metadata | {"name": "second-model"}))
    client = docker_engine.client()
    try:
        result = make(shipped_project, deploy_env, "deploy", MODEL_URI=str(other))
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        out = " ".join(result.stdout.split())
        assert f"Model: second-model v1 (MODEL_URI={other})" in out
        assert "Shipping churn-predictor-second-model:latest: model second-model v1" in out
        built = client.images.get("churn-predictor-second-model:latest")
        live = vm.client().containers.get("churn-predictor")
        assert live.attrs["Image"] == built.id and live.status == "running"
        assert live.labels["io.coldstart.model.name"] == "second-model"
        record = json.loads((shipped_project / ".deploy" / "state.json").read_text())
        assert record["image"] == "churn-predictor-second-model:latest"
    finally:
        # The other tests ship this project's own model: build/image.json names it again.
        env = {"DOCKER_HOST": docker_engine.url}
        rebuilt = run_in(shipped_project, "make", "docker-build", f"PY={sys.executable}", env=env)
        assert rebuilt.returncode == 0, rebuilt.stdout[-3000:] + rebuilt.stderr[-3000:]
        for tag in ("churn-predictor-second-model:v1", "churn-predictor-second-model:latest"):
            with contextlib.suppress(NotFound):
                client.images.remove(tag)


def test_destroy_says_what_it_removes_and_keeps_the_request_log_unless_asked(
    shipped_project, deploy_env, vm, live_release
):
    with tunnel(shipped_project, deploy_env) as url:  # a request, so the host has a log
        assert predict(shipped_project, url, FIRST_KEY)[0] == 200
    # .env names another host since: destroy goes where the record says the release is.
    result = make(shipped_project, deploy_env, "destroy", DEPLOY_SSH_HOST="127.0.0.1")
    assert result.returncode == 0, result.stderr[-3000:]
    out = " ".join(result.stdout.split())
    assert f"Using the recorded host root@{vm.address}:22" in out
    assert "removed container churn-predictor" in out and "(shipped by make deploy)" in out
    assert "API key file(s)" in out
    assert "kept the request log ~/.coldstart/churn-predictor/requests (1 file(s)" in out
    assert "make destroy DESTROY_LOGS=1" in out
    left = vm.client().containers.list(
        all=True, filters={"label": "io.coldstart.app=churn-predictor"}
    )
    assert left == [] and vm.client().images.list() == [], "every image it shipped is gone"
    assert list(SECRETS.glob("*.key")) == [] and (SECRETS / "requests" / "requests.jsonl").is_file()
    assert not (shipped_project / ".deploy" / "state.json").exists()
    assert "state.json (the deploy's record, on this machine)" in out

    asked = make(shipped_project, deploy_env, "destroy", DESTROY_LOGS="1")
    assert asked.returncode == 0, asked.stderr[-3000:]
    assert "removed the request log ~/.coldstart/churn-predictor/requests" in asked.stdout
    assert not SECRETS.exists()


def test_destroy_on_the_build_machine_leaves_images_and_containers_it_did_not_make(
    shipped_project, docker_engine, sshd, tmp_path
):
    """The host is the machine the image was built on: the image was there, so it stays."""
    app = f"buildhost-{os.getpid()}"
    client = docker_engine.client()
    image = derived_image(docker_engine, shipped_project, f"{app}:latest",
                          ['LABEL io.coldstart.test="built here"'])  # fmt: skip
    mine = derived_image(docker_engine, shipped_project, f"{app}:mine",
                         ['LABEL io.coldstart.test="the user\'s own"'])  # fmt: skip
    notes = client.containers.create(mine, name=f"{app}-notes", command=["true"])
    env = sshd.env() | {
        "DOCKER_HOST": docker_engine.url, "DEPLOY_APP": app, "DEPLOY_IMAGE": image,
        "DEPLOY_STATE_DIR": str(tmp_path / ".deploy"), "DEPLOY_REMOTE_PORT": str(free_port()),
        "DEPLOY_HEALTH_TIMEOUT": "90", "API_KEY": FIRST_KEY,
    }  # fmt: skip
    try:
        deployed = make(shipped_project, env, "deploy")
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        assert "image already on the host" in deployed.stdout
        result = make(shipped_project, env, "destroy")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert f"removed container {app}" in result.stdout and "removed image" not in result.stdout
        assert {t for i in client.images.list(name=app) for t in i.tags} == {image, mine}
        notes.reload()  # still there
    finally:
        notes.remove(force=True)
        for tag in (image, mine):
            client.images.remove(tag, force=True)
        for container in client.containers.list(
            all=True, filters={"label": f"io.coldstart.app={app}"}
        ):
            container.remove(force=True)
        # The host's request log folder, which destroy keeps unless asked: this test's app only.
        shutil.rmtree(Path.home() / ".coldstart" / app, ignore_errors=True)


def test_an_ssh_deploy_is_recorded_and_later_commands_go_where_it_went(
    shipped_project, deploy_env, vm, live_release
):
    record = json.loads((shipped_project / ".deploy" / "state.json").read_text())
    assert record["target"] == "ssh" and record["app"] == "churn-predictor"
    assert record["connection"]["ssh_host"] == vm.address and len(record["release"]) == 12
    assert record["image"] == "churn-predictor:latest" and record["image_id"].startswith("sha256:")
    # A fresh shell without the DEPLOY_SSH_* settings: status finds the release from the record...
    connection = ("DEPLOY_SSH_", "DEPLOY_KNOWN_HOSTS")
    fresh = {k: v for k, v in deploy_env.items() if not k.startswith(connection)}
    status = make(shipped_project, fresh, "status")
    assert status.returncode == 0, status.stdout[-3000:] + status.stderr[-3000:]
    assert f"Using the recorded host root@{vm.address}:22" in " ".join(status.stdout.split())
    assert "churn-predictor" in status.stdout and "healthy" in status.stdout
    # ...and a deploy elsewhere refuses while that release runs (it would be forgotten).
    elsewhere = make(shipped_project, deploy_env, "deploy", DEPLOY_SSH_HOST="127.0.0.1")
    assert elsewhere.returncode != 0 and "Traceback" not in elsewhere.stderr
    message = " ".join(elsewhere.stderr.split())
    assert f"The last deploy went to root@{vm.address}:22" in message and "make destroy" in message


def test_a_deploy_without_a_key_makes_one_that_make_predict_sends(shipped_project, deploy_env, vm):
    env_file = shipped_project / ".env"
    before = env_file.read_text()
    env_file.write_text("# no API_KEY here\n")
    keyless = {k: v for k, v in deploy_env.items() if k != "API_KEY"}
    try:
        result = make(shipped_project, keyless, "deploy")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "No API_KEY was set: made one and kept it in .env (mode 600" in " ".join(
            result.stdout.split()
        )
        key = env_file.read_text().split("API_KEY=")[1].strip()
        assert len(key) >= 40 and key not in result.stdout + result.stderr
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        with tunnel(shipped_project, keyless) as url:
            assert predict(shipped_project, url, "")[0] == 401, "never open by accident"
            answer = make(shipped_project, keyless, "predict", PORT=url.rsplit(":", 1)[1])
            assert answer.returncode == 0, answer.stdout + answer.stderr
            assert "Answer:" in answer.stdout
        logs = make(shipped_project, keyless, "logs")
        inspected = json.dumps(vm.client().containers.get("churn-predictor").attrs)
        assert key not in logs.stdout and key not in inspected
    finally:
        env_file.write_text(before)


def test_an_ssh_project_carries_nothing_of_aws(baker):
    project = baker(deploy_target="ssh")
    readme = (project / "README.md").read_text()
    deploy_section = readme[readme.index("## 6. Deploy") :].split("\n## ", 1)[0]
    texts = {
        "README deploy section": deploy_section,
        "docs/deploy.md": (project / "docs" / "deploy.md").read_text(),
        "Makefile": (project / "Makefile").read_text(),
        ".env.example": (project / ".env.example").read_text(),
        "pyproject deploy group": (project / "pyproject.toml")
        .read_text()
        .split("deploy = [")[1]
        .split("]")[0],
    }
    deploy_files = [*(project / "src/churn_predictor/deploy").glob("*.py"),
                    *(project / "tests/deploy").glob("*.py")]  # fmt: skip
    texts |= {str(path.relative_to(project)): path.read_text() for path in deploy_files}
    for name, text in texts.items():
        for word in ("aws", "ec2", "boto", "make extend"):
            assert word not in text.lower(), f"{word!r} in {name} of an ssh-only project"
    assert "TARGET=" not in texts["Makefile"].replace("DEPLOY_TARGET", "").split("# Deploy")[1]
    result = run_in(
        project, sys.executable, "-m", "churn_predictor.deploy", "status", "--target", "aws"
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Unknown deploy target 'aws': this project deploys to ssh" in " ".join(
        result.stderr.split()
    )
