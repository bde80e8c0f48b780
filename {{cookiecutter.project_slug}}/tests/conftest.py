"""Shared fixtures: a small sample data set and one model trained on it for the whole session.

Real components only: a real sqlite MLflow store, real files, real processes.
A test that needs a tool this machine lacks skips with the reason, except under
CI=true, where a skip would hide a broken setup and so fails instead.
"""

import functools
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import skops.io

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data.sample import TARGET, make_sample

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip when a component is missing, but never in CI."""
    if not condition:
        if IN_CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


def require_tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    require(path is not None, f"`{name}` is not installed")
    assert path is not None  # require() skipped or failed the test otherwise
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            command = process.args  # a list, or one program
            program = command if isinstance(command, str | bytes | os.PathLike) else command[0]
            raise RuntimeError(
                f"{os.fsdecode(program)} exited with {process.returncode} before {url} answered"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 within {timeout}s")


def stop(process: subprocess.Popen) -> int:
    process.terminate()
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@contextmanager
def moto_server(**env: str):
    """AWS's API on 127.0.0.1 (moto_server), stopped by PID when the block ends."""
    executable = require_tool("moto_server")
    port = free_port()
    process = subprocess.Popen(
        [executable, "-H", "127.0.0.1", "-p", str(port)],
        env=os.environ | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/moto-api/", timeout=60, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def use_fake_aws(monkeypatch, endpoint: str) -> None:
    """Point boto3 at moto_server with throwaway credentials; never at a real AWS profile."""
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def read_json(folder: Path, name: str):
    """One of a bundle's JSON files, as plain data: what a client of the files sees."""
    return json.loads((Path(folder) / name).read_text())


@functools.cache
def migrated_tracking_store() -> Path:
    """An empty sqlite MLflow store with its tables made: creating them runs ~40 migrations
    (seconds), which every test with a new store would pay again. One is made per session,
    by MLflow itself, and copied; the copy is as new a store as a first `make train` makes."""
    from mlflow.tracking import MlflowClient

    store = Path(TEMPORARY.name) / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{store}").search_experiments()
    return store


TEMPORARY = tempfile.TemporaryDirectory(prefix="tracking-store-")


def make_settings(folder: Path, **overrides) -> Settings:
    if (
        folder.is_dir()
        and "mlflow_tracking_uri" not in overrides
        and not (folder / "mlflow.db").exists()
    ):
        shutil.copyfile(migrated_tracking_store(), folder / "mlflow.db")
    values: dict[str, Any] = {
        "data_path": str(folder / "data.csv"),
        "target": TARGET,
        "mlflow_tracking_uri": f"sqlite:///{folder / 'mlflow.db'}",
        "models_dir": folder / "models",
        "reports_dir": folder / "reports",
        "cv_folds": 3,
    }
    return Settings(_env_file=None, **(values | overrides))


@pytest.fixture(scope="session", autouse=True)
def request_log_outside_the_project(tmp_path_factory):
    """Services started by tests log requests (LOG_DIR): into a temporary folder, never ./logs."""
    previous = os.environ.get("LOG_DIR")
    os.environ["LOG_DIR"] = str(tmp_path_factory.mktemp("request-log"))
    yield
    if previous is None:
        os.environ.pop("LOG_DIR", None)
    else:
        os.environ["LOG_DIR"] = previous


@pytest.fixture(scope="session")
def sample_frame():
    return make_sample(rows=2000, seed=7)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, sample_frame):
    """One model trained on the sample for the whole session: (settings, summary)."""
    from {{ cookiecutter.package_name }}.model.train import train

    folder = tmp_path_factory.mktemp("project")
    sample_frame.to_csv(folder / "data.csv", index=False)
    settings = make_settings(folder)
    return settings, train(settings)


@pytest.fixture(scope="session")
def bundle_dir(trained) -> Path:
    settings, summary = trained
    return settings.bundle_dir(summary["name"])


def copy_of(bundle_dir: Path, folder: Path) -> Path:
    """A copy of a bundle to break on purpose (the original stays as the session trained it)."""
    target = folder / "bundle"
    shutil.copytree(bundle_dir.resolve(), target)
    return target


def crafted_model_file(path: Path, module: str, function: str, arguments: tuple) -> Path:
    """A .skops file whose top node asks skops to call `module.function(*arguments)`: the
    shape of every attack on a loader that trusts a name it has not reviewed."""
    # skops writes the argument tuple for us; we wrap it in a call.
    with zipfile.ZipFile(io.BytesIO(skops.io.dumps(arguments))) as archive:
        content = json.loads(archive.read("schema.json"))
    header = {key: content.pop(key) for key in ("protocol", "_skops_version")}
    node = {
        "__class__": function,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": content,
    } | header
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps(node))
    return path


@pytest.fixture
def malicious(tmp_path) -> tuple[Path, Path]:
    """(a crafted .skops file, the file its payload writes). Its top node asks skops to call
    builtins.eval on a payload: the attack on a loader that trusts every `builtins.` type."""
    marker = tmp_path / "pwned"
    payload = f"open({str(marker)!r}, 'w').write('the model file ran code')"
    path = crafted_model_file(tmp_path / "evil.skops", "builtins", "eval", (payload,))
    return path, marker
