"""Malformed requests get a 4xx that names the field and the problem: never a 500."""

import json

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

from ..conftest import read_json


@pytest.fixture(scope="module")
def client(bundle_dir):
    settings = ServeSettings(
        _env_file=None, model_uri=str(bundle_dir), max_batch_size=3, max_body_bytes=4096
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def columns(bundle_dir) -> dict:
    schema = read_json(bundle_dir, "schema.json")
    numeric = next(c["name"] for c in schema["features"] if c["kind"] == "numeric")
    categorical = next(c["name"] for c in schema["features"] if c["kind"] == "categorical")
    required = next(c["name"] for c in schema["features"] if not c["nullable"])
    return {"numeric": numeric, "categorical": categorical, "required": required}


@pytest.fixture(scope="module")
def example(bundle_dir) -> dict:
    return read_json(bundle_dir, "input_example.json")[0]


def problem(response, status: int = 422) -> list[dict]:
    assert response.status_code == status, response.text
    return response.json()["detail"]


def fields(details: list[dict]) -> set:
    return {d["loc"][-1] for d in details}


def test_wrong_type_names_the_field(client, example, columns):
    details = problem(client.post("/predict", json=example | {columns["numeric"]: "twelve"}))
    assert fields(details) == {columns["numeric"]}


def test_a_number_as_text_is_read_by_the_training_files_rules_only(client, example, columns):
    """ "12" is 12, as training read it (tests/serve/test_written_values.py); Python's own
    coercions ("1_2", "0x10", "１２") are not the file's: a 422 naming the field."""
    typed = client.post("/predict", json=example | {columns["numeric"]: 12})
    assert client.post("/predict", json=example | {columns["numeric"]: "12"}).json() == typed.json()
    for text in ("1_2", "0x10", "１２"):
        response = client.post("/predict", json=example | {columns["numeric"]: text})
        assert fields(problem(response)) == {columns["numeric"]}, text


@pytest.mark.parametrize("value", [[1], {"a": 1}, ""])
def test_category_must_be_text_or_a_number(client, example, columns, value):
    body = example | {columns["categorical"]: value}
    assert fields(problem(client.post("/predict", json=body))) == {columns["categorical"]}
    # A number is a category's text: 3 is "3" (tests/serve/test_messy_data.py).
    assert client.post("/predict", json=example | {columns["categorical"]: 3}).status_code == 200


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(client, example, columns, literal):
    body = json.dumps(example | {columns["numeric"]: 0.5}).replace("0.5", literal, 1)
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert columns["numeric"] in response.text or "JSON" in response.text


def test_missing_required_field(client, example, columns):
    body = {k: v for k, v in example.items() if k != columns["required"]}
    details = problem(client.post("/predict", json=body))
    assert fields(details) == {columns["required"]} and details[0]["type"] == "missing"


def test_extra_field(client, example):
    details = problem(client.post("/predict", json=example | {"surprise": 1}))
    assert fields(details) == {"surprise"} and details[0]["type"] == "extra_forbidden"


def test_empty_batch(client):
    assert fields(problem(client.post("/predict/batch", json={"records": []}))) == {"records"}


def test_batch_over_the_cap(client, example):
    details = problem(client.post("/predict/batch", json={"records": [example] * 4}))
    assert "at most 3" in details[0]["msg"]


def test_a_batch_over_the_cap_echoes_only_an_excerpt(bundle_dir, example):
    settings = ServeSettings(_env_file=None, model_uri=str(bundle_dir), max_batch_size=3)
    with TestClient(create_app(settings)) as client:
        body = {"records": [example] * 900}
        response = client.post("/predict/batch", json=body)
    assert response.status_code == 422 and "at most 3" in response.text
    # The body was ~100 KB or more; the answer names the problem and shows a short excerpt.
    assert len(response.content) < 2000 < len(json.dumps(body))


def test_malformed_json_is_a_400(client):
    response = client.post(
        "/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert problem(response, 400)[0]["type"] == "json_invalid"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_not_sent_as_json_is_told_so(client, example, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/predict", content=json.dumps(example).encode(), headers=headers)
    assert ("content-type" in response.request.headers) == (content_type is not None)
    assert response.status_code == 415 and "application/json" in response.json()["detail"]


@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_a_lone_surrogate_is_a_422_not_a_500(client, example, columns, kind):
    body = json.dumps(example | {columns[kind]: "SURROGATE"}).replace("SURROGATE", "\\ud800")
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert fields(problem(response)) == {columns[kind]}


def test_body_that_is_not_an_object(client):
    assert client.post("/predict", json=[1, 2]).status_code == 422


def test_oversized_body(client, example):
    huge = {"records": [example] * 200}
    counted = 'http_requests_total{endpoint="/predict/batch",method="POST",status="413"}'
    response = client.post("/predict/batch", json=huge)
    assert response.status_code == 413 and "larger than 4096 bytes" in response.json()["detail"]
    # Refused before routing, yet counted under its route: a dashboard of /predict/batch sees it.
    assert counted in client.get("/metrics").text


def test_oversized_body_without_content_length(client, example):
    def chunks():
        yield b'{"records": ['
        for _ in range(200):
            yield json.dumps(example).encode() + b","
        yield b"{}]}"

    response = client.post(
        "/predict/batch", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_unknown_path_and_method(client):
    assert client.get("/nope").status_code == 404
    assert client.get("/predict").status_code == 405


# A 400-digit integer does not fit a float (OverflowError), NaN and 1e20 match no category
# exactly (floats skip whole numbers beyond 2**53): each is a 422 naming the field.
@pytest.mark.parametrize("literal", ["1" + "0" * 400, "-" + "9" * 309, "NaN", "1e20"])
def test_a_category_sent_as_a_number_no_float_can_match_is_a_422(client, example, columns, literal):
    body = json.dumps(example | {columns["categorical"]: "NUMBER"}).replace('"NUMBER"', literal)
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    details = problem(response)
    assert fields(details) == {columns["categorical"]}
    assert "send such a category as text" in details[0]["msg"]
