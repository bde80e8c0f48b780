"""The fast lane answers exactly as the usual FastAPI lane, and hands it everything else."""

import json

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.internals.fast_lane import is_plain_json

from ..conftest import read_json
from .test_app import API_KEY, settings_for

# The usual lane parses any JSON media type; the fast lane takes only application/json.
USUAL_LANE = {"content-type": "application/problem+json"}
KEYED_JSON = {"x-api-key": API_KEY, "content-type": "application/json"}


@pytest.fixture(scope="module")
def example(bundle_dir) -> dict:
    return read_json(bundle_dir, "input_example.json")[0]


@pytest.fixture(scope="module")
def guarded(bundle_dir):
    with TestClient(create_app(settings_for(bundle_dir, api_key=API_KEY))) as client:
        yield client


def test_only_plain_json_takes_the_fast_lane():
    assert is_plain_json(b"application/json") and is_plain_json(b"Application/JSON; charset=utf-8")
    assert not is_plain_json(b"application/problem+json") and not is_plain_json(None)


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_both_lanes_give_the_same_answer(guarded, example, path):
    body = example if path == "/predict" else {"records": [example, example]}
    key = {"x-api-key": API_KEY}
    fast = guarded.post(path, json=body, headers=key)
    usual = guarded.post(path, json=body, headers=key | USUAL_LANE)
    assert fast.status_code == usual.status_code == 200
    assert fast.json() == usual.json()


@pytest.mark.parametrize("literal", ["1" + "0" * 400, "NaN", "true", "3", '"  Two Words "'])
def test_both_lanes_read_a_category_alike(guarded, example, bundle_dir, literal):
    """Numbers, booleans and odd text as a category: one answer and status in both lanes."""
    schema = read_json(bundle_dir, "schema.json")
    name = next(c["name"] for c in schema["features"] if c["kind"] == "categorical")
    body = json.dumps(example | {name: "VALUE"}).replace('"VALUE"', literal)
    fast = guarded.post("/predict", content=body, headers=KEYED_JSON)
    usual = guarded.post("/predict", content=body, headers=KEYED_JSON | USUAL_LANE)
    assert fast.status_code == usual.status_code
    assert fast.json() == usual.json()


def test_errors_come_from_the_usual_lane(guarded, example):
    key = {"x-api-key": API_KEY}
    assert guarded.post("/predict", json=example).status_code == 401
    wrong = {"x-api-key": "x" * 40}
    assert guarded.post("/predict", json=example, headers=wrong).status_code == 401
    broken = dict(example) | {next(iter(example)): {"not": "a value"}}
    fast = guarded.post("/predict", json=broken, headers=key)
    usual = guarded.post("/predict", json=broken, headers=key | USUAL_LANE)
    assert fast.status_code == usual.status_code == 422
    assert fast.json() == usual.json()
    assert fast.json()["detail"][0]["loc"] == ["body", next(iter(example))]


RIGHT_KEY, WRONG_KEY = ("x-api-key", API_KEY), ("x-api-key", "x" * 40)
# The right key and a byte beyond ASCII (UTF-8 é): wrong in both lanes, read as bytes alike.
BYTES_KEY = (b"x-api-key", API_KEY.encode() + "é".encode())
JSON_TYPE, TEXT_TYPE = ("content-type", "application/json"), ("content-type", "text/plain")


@pytest.mark.parametrize(
    "headers, status",
    [
        ([RIGHT_KEY, TEXT_TYPE, JSON_TYPE], 415),
        ([RIGHT_KEY, JSON_TYPE, TEXT_TYPE], 200),
        ([WRONG_KEY, RIGHT_KEY, JSON_TYPE], 401),
        ([RIGHT_KEY, WRONG_KEY, JSON_TYPE], 200),
        ([BYTES_KEY, JSON_TYPE], 401),
    ],
)
def test_a_repeated_header_is_read_as_fastapi_reads_it(guarded, example, headers, status):
    """The first copy counts, in both lanes: the lane never accepts what FastAPI refuses."""
    response = guarded.post("/predict", content=json.dumps(example), headers=headers)
    assert response.status_code == status


def test_the_fast_lane_is_counted_under_its_route(guarded, example):
    guarded.post("/predict", json=example, headers={"x-api-key": API_KEY})
    metrics = guarded.get("/metrics").text
    assert 'http_requests_total{endpoint="/predict",method="POST",status="200"}' in metrics


def served_count(client, status: str) -> float:
    line = 'http_requests_total{endpoint="/predict",method="POST",status="' + status + '"} '
    found = [row for row in client.get("/metrics").text.splitlines() if row.startswith(line)]
    return float(found[0].split()[-1]) if found else 0.0


def test_a_failing_prediction_is_a_500_and_counted_as_one(bundle_dir, example, monkeypatch):
    app = create_app(settings_for(bundle_dir))
    with TestClient(app, raise_server_exceptions=False) as client:
        before = served_count(client, "500")

        def broken(rows):
            raise RuntimeError("the model fell over")

        # The served app is the fast lane; the FastAPI app it fronts holds the predictor.
        monkeypatch.setattr(app.app.state.predictor, "predict_rows", broken)
        assert client.post("/predict", json=example).status_code == 500
        assert served_count(client, "500") == before + 1


def test_any_failure_in_the_lane_is_a_500_and_counted_as_one(bundle_dir, example, monkeypatch):
    """Not only a failing prediction: whatever raises inside the lane is still counted."""
    app = create_app(settings_for(bundle_dir))
    with TestClient(app, raise_server_exceptions=False) as client:
        before = served_count(client, "500")

        def broken(body):
            raise OverflowError("a validator fell over")

        monkeypatch.setattr(app.lanes["/predict"].model, "model_validate_json", broken)
        assert client.post("/predict", json=example).status_code == 500
        assert served_count(client, "500") == before + 1
