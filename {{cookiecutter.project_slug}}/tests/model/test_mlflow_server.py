"""Training against a real `mlflow server` process on 127.0.0.1, then serving from its registry."""

import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from {{ cookiecutter.package_name }}.contract.bundle import Bundle
from {{ cookiecutter.package_name }}.model.train import train
from {{ cookiecutter.package_name }}.serve.internals.model_source import resolve_bundle
from {{ cookiecutter.package_name }}.serve.predictor import Predictor

from ..conftest import free_port, make_settings, stop, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", timeout=120, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def test_train_against_a_tracking_server_and_serve_from_its_registry(
    tmp_path, sample_frame, mlflow_server
):
    sample_frame.to_csv(tmp_path / "data.csv", index=False)
    summary = train(make_settings(tmp_path, mlflow_tracking_uri=mlflow_server))

    client = MlflowClient(tracking_uri=mlflow_server)
    champion = client.get_model_version_by_alias(summary["name"], "champion")
    assert champion.version == summary["version"]
    assert client.get_run(summary["run_id"]).data.metrics[f"test_{summary['metric']}"] > 0.6

    # MODEL_URI=models:/<name>@champion: serving downloads the bundle logged with the run.
    directory = resolve_bundle(f"models:/{summary['name']}@champion", mlflow_server)
    assert Predictor(Bundle.load(directory)).version == summary["version"]
