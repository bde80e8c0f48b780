"""A spreadsheet export trains on the first try, and serving treats requests as training did:
"Downtown", " downtown " and "DOWNTOWN" are one neighbourhood, 2 and "2" one bedroom count."""

import re

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.model.train import train
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

from ..conftest import make_settings, read_json
from ..data.corpus import spreadsheet_export


@pytest.fixture(scope="module")
def spreadsheet(tmp_path_factory):
    """The "done when" file, trained with no settings but the file and the target."""
    folder = tmp_path_factory.mktemp("spreadsheet")
    (folder / "listings.csv").write_bytes(spreadsheet_export())
    settings = make_settings(folder, data_path=str(folder / "listings.csv"), target="Monthly rent")
    return settings, train(settings)


@pytest.fixture(scope="module")
def client(spreadsheet):
    _, summary = spreadsheet
    app = create_app(ServeSettings(_env_file=None, model_uri=str(summary["bundle_dir"])))
    with TestClient(app) as client:
        yield client


def test_spreadsheet_export_trains_first_try(spreadsheet):
    settings, summary = spreadsheet
    schema = summary["schema"].model_dump()
    kinds = {d["column"]: d["kind"] for d in schema["decisions"]}
    assert kinds == {
        "Listing ID": "id",
        "Listed on": "date",
        "Neighbourhood": "categorical",
        "Bedrooms": "categorical",
        "Floor area (sq ft)": "numeric",
        "Agent fee": "numeric",
        "Notes": "text",
        "Let within a month": "categorical",
    }
    assert summary["task"] == "regression" and summary["promotion"].promoted
    assert schema["task_reason"].startswith("regression: ")
    report = (settings.reports_dir / "data_report.md").read_text()
    assert "## Column decisions" in report and "Read as UTF-8 with BOM, comma-separated" in report
    assert "'DOWNTOWN' / 'Downtown' / 'Downtown ' / 'downtown' -> 'downtown'" in report
    card = (summary["bundle_dir"] / "model_card.md").read_text()  # your own CSV's model card
    assert "| Listing ID | id (left out) |" in card and "| Notes | text (left out) |" in card
    assert "- `Listed on` spans " in card and "`Listed on` ends at " in card
    assert f"{summary['metrics']['test_r2']:.4f}" in card


def test_serving_runs_the_whole_pipeline_in_onnx(spreadsheet):
    _, summary = spreadsheet
    assert read_json(summary["bundle_dir"], "metadata.json")["onnx"] == "pipeline"


def record(client, **changes) -> dict:
    example = client.get("/openapi.json").json()["components"]["schemas"]["Record"]["examples"][0]
    return example | changes


def predicted(client, body: dict) -> float:
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    return response.json()["prediction"]


def test_spellings_of_a_category_get_one_prediction(client):
    answers = {
        predicted(client, record(client, Neighbourhood=spelling))
        for spelling in ("Downtown", " downtown ", "DOWNTOWN", "downtown")
    }
    assert len(answers) == 1
    assert predicted(client, record(client, Neighbourhood="Riverside")) not in answers


def test_a_number_and_its_text_agree_for_a_categorical_field(client):
    as_number = predicted(client, record(client, Bedrooms=2))
    assert as_number == predicted(client, record(client, Bedrooms="2"))
    assert as_number != predicted(client, record(client, Bedrooms="Studio"))


def test_ids_and_free_text_are_accepted_and_ignored(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    for left_out in ("Listing ID", "Notes"):
        assert schema["properties"][left_out]["x-ignored"] is True
    known = schema["properties"]["Neighbourhood"]["x-known-values"]
    assert known == ["downtown", "old town", "riverside"]
    extra = {"Listing ID": 10_001, "Notes": "Viewed 3 times", "Monthly rent": "$1,175"}
    assert predicted(client, record(client, **extra)) == predicted(client, record(client))
    assert client.post("/predict", json=record(client, **{"Listing #": 1})).status_code == 422


def test_numbers_written_as_the_file_writes_them_get_the_typed_answer(client):
    """docs/data.md's promise: "1,291" is 1291 and "10%" is 10, as training read them."""
    typed = predicted(client, record(client, **{"Floor area (sq ft)": 1291, "Agent fee": 10}))
    written = record(client, **{"Floor area (sq ft)": "1,291", "Agent fee": "10%"})
    assert predicted(client, written) == typed
    other = predicted(client, record(client, **{"Floor area (sq ft)": 300, "Agent fee": 10}))
    assert other != typed  # the area counts: the text was read, not dropped


def test_scikit_learn_and_onnx_normalise_alike(spreadsheet, client):
    """Both serving paths: the pipeline's own steps, and contract/values.py before the ONNX graph."""
    import numpy as np
    import onnxruntime
    import pandas as pd

    from {{ cookiecutter.package_name }}.contract.bundle import Bundle
    from {{ cookiecutter.package_name }}.contract.onnx_inputs import onnx_feed

    _, summary = spreadsheet
    bundle = Bundle.load(summary["bundle_dir"])
    pipeline = bundle.load_pipeline()  # the allow-list must cover the new transformers too
    schema = bundle.schema
    spellings = ["Downtown", " downtown ", "DOWNTOWN", "Ｄｏｗｎｔｏｗｎ"]
    records = [record(client, Neighbourhood=s, Bedrooms=b) for s in spellings for b in (2, "2")]
    expected = pipeline.predict(pd.DataFrame(records, columns=schema.names))
    session = onnxruntime.InferenceSession(str(bundle.onnx_path))
    served = session.run(None, onnx_feed(session, schema, records))[0].ravel()
    assert np.allclose(expected, expected[0]) and np.allclose(served, expected, rtol=1e-4)


def test_a_date_is_read_as_the_file_wrote_it_or_refused(client):
    properties = client.get("/openapi.json").json()["components"]["schemas"]["Record"]["properties"]
    shown = re.search(r"e\.g\. '([^']+)'", properties["Listed on"]["description"]).group(1)
    predicted(client, record(client, **{"Listed on": shown}))  # the documented example works
    for unreadable in ("not a date", "99/99/9999", "2026-13-45"):
        response = client.post("/predict", json=record(client, **{"Listed on": unreadable}))
        assert response.status_code == 422, unreadable
        assert "is not a date written as" in response.text
