"""A bundle that cannot load never stops the service: /livez 200, /readyz 503 naming the file
and the problem. A tampered model file stops the whole bundle; where the scikit-learn file is
only missing, a whole-pipeline ONNX graph serves alone."""

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.contract.bundle import ONNX_FILE, PIPELINE_FILE, Bundle
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

from ..conftest import copy_of


def not_ready_because(folder) -> str:
    """Start the app on `folder`; check it lives but is not ready; return /readyz's reason."""
    settings = ServeSettings(_env_file=None, model_uri=str(folder))
    with TestClient(create_app(settings)) as client:
        assert client.get("/livez").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert client.post("/predict", json={}).status_code == 503
        return ready.json()["detail"]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("schema.json", "{broken", "not valid JSON"),
        ("metadata.json", "[1, 2", "not valid JSON"),
        ("input_example.json", "[]", "at least one record"),
        ("schema.json", '{"task": "regression"}', "does not match the bundle format"),
    ],
)
def test_a_broken_file_keeps_the_service_up_and_is_named(
    bundle_dir, tmp_path, name, content, problem
):
    bundle = copy_of(bundle_dir, tmp_path)
    (bundle / name).write_text(content)
    reason = not_ready_because(bundle)
    assert str(bundle / name) in reason and problem in reason


def test_a_missing_folder_keeps_the_service_up(tmp_path):
    reason = not_ready_because(tmp_path / "nowhere")
    assert "nowhere" in reason and "make train" in reason


def test_a_model_file_that_runs_code_is_refused_by_the_service(bundle_dir, tmp_path, malicious):
    path, marker = malicious
    bundle = copy_of(bundle_dir, tmp_path)
    shutil.copy(path, bundle / PIPELINE_FILE)
    (bundle / ONNX_FILE).unlink(missing_ok=True)  # nothing else to serve from
    reason = not_ready_because(bundle)
    assert "builtins.eval" in reason and "Refused" in reason
    assert not marker.exists()


def whole_pipeline_in_onnx(bundle_dir) -> None:
    if Bundle.load(bundle_dir).metadata.onnx != "pipeline":
        pytest.skip("this model's ONNX graph holds only the preprocessing")


@pytest.mark.parametrize("listed", [True, False], ids=["tampered-list", "honest-list"])
def test_a_tampered_bundle_serves_nothing_not_even_its_onnx_graph(
    bundle_dir, tmp_path, malicious, listed
):
    """The audit's route: a crafted pipeline.skops (plus, or not, one added line in
    metadata.json). The graph beside it is from the same hands: the whole bundle is refused."""
    whole_pipeline_in_onnx(bundle_dir)
    path, marker = malicious
    bundle = copy_of(bundle_dir, tmp_path)
    shutil.copy(path, bundle / PIPELINE_FILE)
    if listed:
        metadata = json.loads((bundle / "metadata.json").read_text())
        metadata["trusted_types"].append("builtins.eval")
        (bundle / "metadata.json").write_text(json.dumps(metadata))
    reason = not_ready_because(bundle)
    assert "builtins.eval" in reason and str(bundle) in reason
    assert not marker.exists()


def test_onnx_serves_when_the_pipeline_file_is_missing(bundle_dir, tmp_path):
    whole_pipeline_in_onnx(bundle_dir)
    bundle = copy_of(bundle_dir, tmp_path)
    (bundle / PIPELINE_FILE).unlink()
    example = json.loads((bundle / "input_example.json").read_text())[0]
    with TestClient(create_app(ServeSettings(_env_file=None, model_uri=str(bundle)))) as client:
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["mode"] == "onnx:pipeline"
        assert PIPELINE_FILE in ready["warning"]
        assert client.post("/predict", json=example).status_code == 200


@pytest.mark.parametrize("name", [PIPELINE_FILE, ONNX_FILE, "schema.json"])
def test_a_link_or_device_in_the_bundle_is_refused_not_taken_for_missing(
    bundle_dir, tmp_path, name
):
    """pipeline.skops -> /dev/zero once passed for "missing", and ONNX served from the bundle."""
    bundle = copy_of(bundle_dir, tmp_path)
    (bundle / name).unlink(missing_ok=True)
    (bundle / name).symlink_to("/dev/zero")
    reason = not_ready_because(bundle)
    assert f"{bundle} holds {name} (a link to /dev/zero)" in reason
    assert "a bundle is plain files only" in reason
