"""Every endpoint, in process, against the model trained for this session."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.predictor import Predictor
from {{ cookiecutter.package_name }}.serve.schemas import response_models
from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

from ..conftest import read_json

API_KEY = "a-long-enough-test-key-0123456789"


def settings_for(bundle_dir, **overrides) -> ServeSettings:
    return ServeSettings(_env_file=None, model_uri=str(bundle_dir), **overrides)


@pytest.fixture(scope="module")
def client(bundle_dir):
    with TestClient(create_app(settings_for(bundle_dir, max_batch_size=5))) as client:
        yield client


@pytest.fixture(scope="module")
def example(bundle_dir) -> dict:
    return read_json(bundle_dir, "input_example.json")[0]


def test_health_endpoints(client):
    assert client.get("/livez").json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_predict_one_record(client, example, bundle_dir):
    answer = client.post("/predict", json=example).json()
    metadata = read_json(bundle_dir, "metadata.json")
    assert answer["model_version"] == metadata["version"]
    schema = read_json(bundle_dir, "schema.json")
    if schema["task"] == "classification":
        assert answer["prediction"] in schema["classes"]
        assert sum(answer["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    else:
        assert isinstance(answer["prediction"], float)
        if client.get("/readyz").json()["mode"].startswith("onnx"):
            # float32 from ONNX: about 7 significant digits, without the binary noise after them.
            assert answer["prediction"] == float(str(np.float32(answer["prediction"])))


def test_float32_answers_carry_only_their_own_digits():
    assert repr(Predictor.as_served(np.float32(6667.31591796875))) == "6667.316"
    assert Predictor.as_served(np.float64(6667.31591796875)) == 6667.31591796875


def test_float32_arrays_carry_only_their_own_digits_too():
    values = np.array([6667.31591796875, 0.1, 1e-8], dtype=np.float32)
    assert Predictor.as_served_all(values) == [Predictor.as_served(v) for v in values]


def test_answers_match_the_documented_response_models(client, example, bundle_dir):
    """The routes return ready-made JSON (no second validation): it must still fit /docs."""
    Prediction, BatchPrediction = response_models(read_json(bundle_dir, "schema.json")["task"])
    one = client.post("/predict", json=example)
    assert one.status_code == 200
    Prediction.model_validate(one.json(), strict=True)
    many = client.post("/predict/batch", json={"records": [example, example]})
    assert many.status_code == 200
    BatchPrediction.model_validate(many.json(), strict=True)
    # ...and the documented schema names them.
    paths = client.get("/openapi.json").json()["paths"]
    answer = paths["/predict"]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["$ref"].endswith("/Prediction")


def test_predict_batch_keeps_order(client, example):
    single = client.post("/predict", json=example).json()["prediction"]
    answer = client.post("/predict/batch", json={"records": [example, example]}).json()
    assert [p["prediction"] for p in answer["predictions"]] == [single, single]


def test_optional_columns_may_be_left_out(client, example, bundle_dir):
    schema = read_json(bundle_dir, "schema.json")
    required = {c["name"] for c in schema["features"] if not c["nullable"]}
    assert (
        client.post(
            "/predict", json={k: v for k, v in example.items() if k in required}
        ).status_code
        == 200
    )


def test_unseen_category_is_not_an_error(client, example, bundle_dir):
    schema = read_json(bundle_dir, "schema.json")
    name = next(c["name"] for c in schema["features"] if c["kind"] == "categorical")
    assert client.post("/predict", json=example | {name: "never seen before"}).status_code == 200


def test_model_card(client, bundle_dir):
    card = client.get("/model").json()
    assert card["name"] == read_json(bundle_dir, "metadata.json")["name"]
    assert card["schema"]["target"] and card["input_example"] and card["mode"]


def features_of(record: dict) -> set:
    """The Record's fields the model reads: not those accepted and ignored."""
    return {name for name, field in record["properties"].items() if not field.get("x-ignored")}


def test_the_docs_list_the_columns_training_left_out_as_ignored(client, bundle_dir):
    record = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    schema = read_json(bundle_dir, "schema.json")
    assert set(record["properties"]) - features_of(record) == {
        schema["target"],
        *schema["excluded"],
    }


def test_openapi_has_the_typed_schema_and_example(client, example):
    spec = client.get("/openapi.json").json()
    record = spec["components"]["schemas"]["Record"]
    assert features_of(record) == set(example)
    assert record["additionalProperties"] is False
    assert record["examples"] == [example]


def test_metrics_count_requests_and_name_the_model(client, example, bundle_dir):
    client.post("/predict", json=example)
    text = client.get("/metrics").text
    assert 'http_requests_total{endpoint="/predict",method="POST",status="200"}' in text
    assert "predictions_total" in text and "http_request_duration_seconds_bucket" in text
    assert f'version="{read_json(bundle_dir, "metadata.json")["version"]}"' in text


def test_api_key_guards_predictions_and_the_model_card(bundle_dir, example):
    with TestClient(create_app(settings_for(bundle_dir, api_key=API_KEY))) as client:
        assert client.post("/predict", json=example).status_code == 401
        assert (
            client.post("/predict", json=example, headers={"X-API-Key": "wrong"}).status_code == 401
        )
        assert (
            client.post("/predict", json=example, headers={"X-API-Key": API_KEY}).status_code == 200
        )
        # /model shows categories, ranges and the run id: not for anyone who asks.
        assert client.get("/model").status_code == 401
        assert client.get("/model", headers={"X-API-Key": API_KEY}).status_code == 200
        assert client.get("/readyz").status_code == 200
        spec = client.get("/openapi.json").json()
        assert "APIKeyHeader" in spec["components"]["securitySchemes"]
        assert "401" in spec["paths"]["/predict"]["post"]["responses"]


def test_with_a_key_the_public_docs_show_the_contract_but_no_training_data(bundle_dir, example):
    with TestClient(create_app(settings_for(bundle_dir, api_key=API_KEY))) as client:
        spec = client.get("/openapi.json")
        metrics = client.get("/metrics").text
        docs = client.get("/docs")
    assert spec.status_code == docs.status_code == 200  # /docs works, with its Authorize button
    record = spec.json()["components"]["schemas"]["Record"]
    assert features_of(record) == set(example) and "examples" not in record
    text = json.dumps(spec.json(), ensure_ascii=False)
    descriptions = " ".join(p["description"] for p in record["properties"].values())
    schema = read_json(bundle_dir, "schema.json")
    for column in schema["features"]:
        dates = [column.get("earliest"), column.get("latest")]
        for seen in (column.get("categories") or []) + dates:
            # Neither as a value anywhere, nor as a word in what the fields say.
            assert seen is None or json.dumps(seen, ensure_ascii=False) not in text, seen
            assert seen is None or seen not in re.split(r"[\s,:;()']+", descriptions), seen
    # No training range (nor any other figure) in what the fields say of themselves.
    assert not any(character.isdigit() for character in descriptions), descriptions
    metadata = read_json(bundle_dir, "metadata.json")
    assert metadata["run_id"] and metadata["run_id"] not in metrics


def test_without_a_key_the_docs_show_categories_and_the_example(client, example, bundle_dir):
    record = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    assert record["examples"] == [example]
    schema = read_json(bundle_dir, "schema.json")
    name = next(c["name"] for c in schema["features"] if c["kind"] == "categorical")
    assert record["properties"][name]["x-known-values"]
    number = next(c for c in schema["features"] if c["kind"] == "numeric")
    seen = f"{number['min']:g} to {number['max']:g}"
    assert seen in record["properties"][number["name"]]["description"]


def test_metrics_never_show_the_run_id(client, bundle_dir):
    """/metrics is public even with API_KEY (Prometheus scrapes it): the run id is /model's."""
    run_id = read_json(bundle_dir, "metadata.json")["run_id"]
    assert run_id and run_id not in client.get("/metrics").text


def test_the_schema_says_what_each_field_accepts(client, bundle_dir):
    """Categories take text, numbers and booleans; dates say their format; /metrics is text."""
    spec = client.get("/openapi.json").json()
    properties = spec["components"]["schemas"]["Record"]["properties"]
    for column in read_json(bundle_dir, "schema.json")["features"]:
        declared = properties[column["name"]]
        if column["kind"] == "categorical":
            types = {option.get("type") for option in declared["anyOf"]}
            assert {"string", "number", "boolean"} <= types
        if column["kind"] == "date":
            assert declared["x-date-format"] == column["date_format"]
            if column["date_format"] == "%Y-%m-%d":
                assert declared["format"] == "date"
    metrics = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert set(metrics) == {"text/plain"}


def test_without_a_key_the_docs_ask_for_none(client):
    spec = client.get("/openapi.json").json()
    assert "securitySchemes" not in spec.get("components", {})
    assert "X-API-Key" not in json.dumps(spec)


def test_the_docs_list_every_error_answer(client):
    responses = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["responses"]
    assert {"200", "400", "413", "415", "422", "503"} <= set(responses)


@pytest.mark.parametrize("weak", ["changeme", "short"])
def test_placeholder_api_keys_are_refused(weak):
    with pytest.raises(ValueError, match="API_KEY is a placeholder or shorter"):
        ServeSettings(_env_file=None, api_key=weak)


@pytest.mark.parametrize("key", ["clé-assez-longue-0123456789", "tab\there-0123456789abc"])
def test_an_api_key_beyond_printable_ascii_is_refused(key):
    with pytest.raises(ValueError, match="printable ASCII"):
        ServeSettings(_env_file=None, api_key=key)


@pytest.mark.parametrize("name", ["HEADER_TIMEOUT_S", "BODY_TIMEOUT_S", "KEEP_ALIVE_TIMEOUT_S"])
@pytest.mark.parametrize("value", ["0", "inf", "-1"])
def test_a_timeout_must_be_a_positive_number(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.lower()):
        ServeSettings(_env_file=None)


@pytest.mark.parametrize(
    "secret, said",
    [
        ("tooshort-4729", "16 characters"),
        # Header bytes: the fast lane would compare UTF-8, FastAPI latin-1. Refused, not split.
        ("ключ-достаточно-длинный-4729", "printable ASCII"),
        ("a key with spaces in it 4729", "printable ASCII"),
    ],
)
def test_a_bad_api_key_is_one_line_that_never_shows_the_key(tmp_path, secret, said):
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
        env=os.environ | {"API_KEY": secret},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert "API_KEY" in result.stderr and said in result.stderr
    assert secret not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "name, value",
    [("LOG_MAX_ROWS_PER_S", "inf"), ("LOG_MAX_ROWS_PER_S", "0"), ("LOG_MAX_MB", "inf")],
)
def test_a_bad_log_setting_is_one_line_and_exit_2(tmp_path, name, value):
    """inf would pass `> 0`, then end the request log's thread (or the start-up) in a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
        env=os.environ | {name: value},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: {name}:"), result.stderr


def test_not_ready_until_a_model_loads(tmp_path, bundle_dir):
    import shutil

    broken = tmp_path / "bundle"
    shutil.copytree(bundle_dir, broken)
    (broken / "pipeline.skops").write_bytes(b"not a model")
    (broken / "model.onnx").unlink(missing_ok=True)
    with TestClient(create_app(settings_for(broken))) as client:
        assert client.get("/livez").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"
        example = read_json(broken, "input_example.json")[0]
        assert client.post("/predict", json=example).status_code == 503
