"""Build the baked project's image with a real Docker engine, run it, and look inside."""

import json
import os
import shutil
import socket
import stat
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from .conftest import MEASUREMENTS, run_in
from .harness.sshd import free_port
from .test_deploy_ssh import watching_ps

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(shipped_project):
    return shipped_project


@pytest.fixture(scope="module")
def image(project, docker_engine):
    metadata = json.loads((project / "models" / "churn-predictor" / "metadata.json").read_text())
    image = docker_engine.client().images.get(f"churn-predictor:v{metadata['version']}")
    MEASUREMENTS["image size"] = f"{image.attrs['Size'] / 1e6:.0f} MB"
    return image


@pytest.fixture(scope="module")
def container(image, docker_engine):
    port = free_port()
    container = docker_engine.client().containers.run(
        image.id,
        detach=True,
        ports={"8000/tcp": ("127.0.0.1", port)},
        read_only=True,
        tmpfs={"/tmp": ""},
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            container.reload()
            if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
                break
            assert container.status != "exited", container.logs().decode()[-3000:]
            time.sleep(1)
        else:
            pytest.fail(f"not healthy in 120s:\n{container.logs().decode()[-3000:]}")
        yield container, f"http://127.0.0.1:{port}"
    finally:
        container.remove(force=True)


def test_container_becomes_healthy_and_predicts(container, project):
    _, url = container
    with urllib.request.urlopen(f"{url}/readyz", timeout=10) as response:
        assert json.load(response)["status"] == "ready"
    example = json.loads(
        (project / "models" / "churn-predictor" / "input_example.json").read_text()
    )[0]
    request = urllib.request.Request(
        f"{url}/predict", json.dumps(example).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["prediction"] in ("yes", "no")


def test_service_runs_as_non_root(container, image):
    running, _ = container
    assert image.attrs["Config"]["User"] == "10001:10001"
    assert running.exec_run("id -u").output.decode().strip() != "0"
    # The model bundle is readable but not writable by the service.
    assert running.exec_run("touch /app/model/x").exit_code != 0


def test_image_holds_no_secrets_data_or_tracking_files(container):
    running, _ = container
    listing = running.exec_run("sh -c 'ls -A /app; ls -A /app/model'").output.decode().split()
    assert sorted(listing) == sorted(
        [
            "model",
            "logs",  # the request log's volume (empty in the image)
            "input_example.json",
            "metadata.json",
            "model_card.md",
            "model.onnx",
            "pipeline.skops",
            "reference.json",
            "schema.json",
        ]
    )
    wanted = "-name .env -o -name mlflow.db -o -name mlruns -o -name customers.csv -o -name .git"
    # Look as root, so no directory is hidden from the search.
    found = running.exec_run(f"find / -xdev ( {wanted} ) -print", user="root").output.decode()
    assert found.strip() == ""


def test_labels_carry_model_version_and_commit(image, project):
    labels = image.attrs["Config"]["Labels"]
    metadata = json.loads((project / "models" / "churn-predictor" / "metadata.json").read_text())
    assert labels["org.opencontainers.image.version"] == metadata["version"]
    assert labels["io.coldstart.model.name"] == metadata["name"]
    commit = run_in(project, "git", "rev-parse", "--short", "HEAD").stdout.strip()
    assert labels["org.opencontainers.image.revision"] == commit


def test_healthcheck_is_declared(image):
    test = image.attrs["Config"]["Healthcheck"]["Test"]
    assert "livez" in " ".join(test) and "curl" not in " ".join(test)


def test_make_docker_smoke(project, image, docker_engine):
    result = run_in(
        project, "make", "docker-smoke", f"PY={sys.executable}", f"PORT={free_port()}",
        env={"DOCKER_HOST": docker_engine.url},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Smoke test passed." in result.stdout and "(not root)" in result.stdout


def test_onnx_only_image_leaves_scikit_learn_out(container, project):
    """The default model's ONNX graph is the whole pipeline: no scikit-learn, scipy or pandas."""
    running, _ = container
    metadata = json.loads((project / "models" / "churn-predictor" / "metadata.json").read_text())
    assert metadata["onnx"] == "pipeline"
    for module in ("sklearn", "scipy", "pandas"):
        assert running.exec_run(["python", "-c", f"import {module}"]).exit_code != 0, module
    assert running.exec_run(["python", "-c", "import onnxruntime, fastapi"]).exit_code == 0


def pod_limits(project) -> dict:
    deployment = yaml.safe_load((project / "k8s" / "base" / "deployment.yaml").read_text())
    return deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]


def test_make_docker_run_drops_every_capability_and_limits_memory_and_processes(
    project, image, docker_engine
):
    port = free_port()
    result = run_in(
        project, "make", "docker-run", f"PY={sys.executable}", f"PORT={port}",
        env={"DOCKER_HOST": docker_engine.url},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    container = docker_engine.client().containers.get("churn-predictor")
    try:
        host = container.attrs["HostConfig"]
        assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
        assert pod_limits(project)["memory"] == "256Mi", "the same limit as a Kubernetes pod"
        assert host["Memory"] == host["MemorySwap"] == 256 * 1024 * 1024
        assert host["PidsLimit"] == 256 and host["ReadonlyRootfs"]
        assert "LOG_MAX_MB=100" in container.attrs["Config"]["Env"]
        status = container.exec_run("cat /proc/1/status").output.decode()
        assert "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status
        # It still serves under those limits.
        deadline = time.monotonic() + 120
        while container.attrs["State"].get("Health", {}).get("Status") != "healthy":
            assert time.monotonic() < deadline and container.status != "exited", (
                container.logs().decode()[-3000:]
            )
            time.sleep(1)
            container.reload()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as response:
            assert json.load(response)["status"] == "ready"
        stats = container.stats(stream=False)
        MEASUREMENTS["docker-run memory in use (limit 256 MiB)"] = (
            f"{stats['memory_stats'].get('usage', 0) / 2**20:.0f} MiB"
        )
        MEASUREMENTS["docker-run processes and threads (limit 256)"] = str(
            stats.get("pids_stats", {}).get("current", "?")
        )
    finally:
        container.remove(force=True)


def test_make_docker_run_passes_api_key_as_a_read_only_file_only_its_user_reads(
    project, image, docker_engine
):
    """API_KEY reaches the container as a deploy's release gets it: a file mounted read-only,
    never an environment variable (`docker inspect`), a command line (`ps`) or a log."""
    key, port = "docker-run-key-6c2f9e1d4a", free_port()
    env = {"DOCKER_HOST": docker_engine.url, "API_KEY": key}
    with watching_ps(key) as leaks:
        result = run_in(project, "make", "docker-run", f"PY={sys.executable}", f"PORT={port}",
                        env=env)  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    container = docker_engine.client().containers.get("churn-predictor")
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=3):
                    break
            except OSError:
                container.reload()
                assert time.monotonic() < deadline and container.status != "exited", (
                    container.logs().decode()[-3000:]
                )
                time.sleep(1)
        assert predict_status(project, url, None) == 401, "never open with API_KEY set"
        assert predict_status(project, url, "a-wrong-key-but-long-enough") == 401
        assert predict_status(project, url, key) == 200
        answer = run_in(project, "make", "predict", f"PY={sys.executable}", f"PORT={port}",
                        env=env)  # fmt: skip
        assert answer.returncode == 0 and "Answer:" in answer.stdout, answer.stderr[-2000:]
        container.reload()
        (mount,) = [
            m for m in container.attrs["Mounts"] if m["Destination"] == "/run/secrets/api_key"
        ]
        assert mount["RW"] is False and mount["Type"] == "bind"
        secret = Path(mount["Source"])
        info = secret.stat()
        if os.geteuid() == 0:  # handed to the image's user: no one else in the container reads it
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (10001, 0o400)
        else:
            assert stat.S_IMODE(info.st_mode) == 0o640
        assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
        assert key not in json.dumps(container.attrs), "docker inspect shows the key"
        assert key not in container.logs().decode() + result.stdout + result.stderr
        assert leaks == [], "the API key showed up in ps"
    finally:
        container.remove(force=True)


def predict_status(project, url: str, key: str | None) -> int:
    example = json.loads(
        (project / "models" / "churn-predictor" / "input_example.json").read_text()
    )[0]
    headers = {"Content-Type": "application/json"} | ({"X-API-Key": key} if key else {})
    request = urllib.request.Request(f"{url}/predict", json.dumps(example).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_taken_port_is_one_line_and_leaves_no_container(project, image, docker_engine):
    """Docker creates a container before it binds the port: a refused start used to leave
    one behind each try (and print a traceback)."""
    client = docker_engine.client()
    before = {c.id for c in client.containers.list(all=True)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_in(
            project, "make", "docker-run", f"PY={sys.executable}", f"PORT={port}",
            env={"DOCKER_HOST": docker_engine.url},
        )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "error: Docker could not start" in result.stderr
    assert f"127.0.0.1:{port} is taken" in result.stderr
    assert {c.id for c in client.containers.list(all=True)} == before


def test_another_models_build_never_moves_this_projects_tags(project, docker_engine, tmp_path):
    """`make docker-build MODEL_URI=<another bundle>`: that model's own image name, not ours."""
    client = docker_engine.client()
    ours = {
        tag: client.images.get(tag).id for tag in ("churn-predictor:v1", "churn-predictor:latest")
    }
    other = tmp_path / "second-model"
    shutil.copytree((project / "models" / "churn-predictor").resolve(), other)
    metadata = json.loads((other / "metadata.json").read_text())
    (other / "metadata.json").write_text(json.dumps(metadata | {"name": "second-model"}))
    env = {"DOCKER_HOST": docker_engine.url}
    try:
        result = run_in(project, "make", "docker-build", f"PY={sys.executable}",
                        f"MODEL_URI={other}", env=env)  # fmt: skip
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "Built churn-predictor-second-model:v1" in result.stdout
        assert {tag: client.images.get(tag).id for tag in ours} == ours
        built = client.images.get("churn-predictor-second-model:latest")
        assert built.labels["io.coldstart.model.name"] == "second-model"
        assert json.loads((project / "build" / "image.json").read_text())["model"] == "second-model"
    finally:
        # The session's other tests use this project's own bundle in build/.
        rebuilt = run_in(project, "make", "docker-build", f"PY={sys.executable}", env=env)
        assert rebuilt.returncode == 0, rebuilt.stdout[-3000:] + rebuilt.stderr[-3000:]
        for tag in ("churn-predictor-second-model:v1", "churn-predictor-second-model:latest"):
            client.images.remove(tag)
