"""One parse for training and serving: a row sent as the file writes it ("8 gb", "0.73 GB",
"$1,499.00", "2,225", "15%", "27.602,23", " ÎLE-DE-FRANCE ", "21") gets the answer of the
row training read from it, in both lanes, from ONNX and from scikit-learn; the columns
training left out are accepted and ignored; a column it never saw is still a 422."""

import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from {{ cookiecutter.package_name }}.contract.bundle import ONNX_FILE, Bundle
from {{ cookiecutter.package_name }}.data.decisions import Options, decide_columns
from {{ cookiecutter.package_name }}.data.load import read_csv
from {{ cookiecutter.package_name }}.model.train import train
from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.internals.answers import row_reader
from {{ cookiecutter.package_name }}.serve.schemas import record_model
from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

from ..conftest import free_port, make_settings, stop, wait_for
from ..data.corpus import french_export, listings, to_csv

ROWS = 30  # rows of each file sent back to the service
USUAL_LANE = {"content-type": "application/problem+json"}  # the fast lane takes only plain JSON


def scraped_listings() -> bytes:
    """The scraped listings (units mixed, "$4,348.00" / "2,225" / "1999 USD", a URL), with a
    discount written as a percentage; the screen size is the target, so the price is a feature."""
    frame = listings()
    return to_csv(frame.assign(Discount=[f"{5 * (i % 4)}%" for i in range(len(frame))]))


FILES = {
    "listings": (scraped_listings, "Screen (in)", {}),
    "french": (french_export, "Accepté", {"sep": ";", "encoding": "cp1252"}),
}


def as_written(path, csv_options: dict) -> list[dict]:
    """The file's rows exactly as it writes them: every cell as its text; a blank cell as null."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, **csv_options)
    return [
        {k: (v if v != "" else None) for k, v in row.items()} for row in frame.to_dict("records")
    ]


def as_training_read(path, target: str) -> list[dict]:
    """The same rows as training read them (data/decisions.py): numbers, units converted."""
    frame = read_csv(str(path))
    _, features = decide_columns(frame, target, Options(decimal=frame.attrs["csv"]["decimal"]))
    typed = features.astype(object).where(features.notna(), None)
    return typed.to_dict("records")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """Each file trained with DATA and TARGET only: its bundle, its rows written and typed."""
    trained = {}
    for name, (make, target, csv_options) in FILES.items():
        folder = tmp_path_factory.mktemp(name)
        path = folder / f"{name}.csv"
        path.write_bytes(make())
        # The same model in every bake (a regression or linear bake would train another and
        # may not reach the floor): what is tested is reading values, not the model.
        settings = make_settings(
            folder,
            data_path=str(path),
            target=target,
            task="classification",
            model="hist_gradient_boosting",
        )
        summary = train(settings)
        onnx_free = folder / "sklearn-bundle"
        shutil.copytree(summary["bundle_dir"].resolve(), onnx_free)
        (onnx_free / ONNX_FILE).unlink()
        trained[name] = {
            "bundles": {"onnx": summary["bundle_dir"], "sklearn": onnx_free},
            "written": as_written(path, csv_options)[:ROWS],
            "typed": as_training_read(path, target)[:ROWS],
        }
    return trained


@pytest.fixture(scope="module")
def services(files):
    """A client per file and serving path (ONNX, scikit-learn)."""
    clients = {}
    for name, trained in files.items():
        for mode, bundle in trained["bundles"].items():
            client = TestClient(create_app(ServeSettings(_env_file=None, model_uri=str(bundle))))
            clients[name, mode] = client.__enter__()
            expected = "onnx:pipeline" if mode == "onnx" else "sklearn"
            assert client.get("/readyz").json()["mode"] == expected
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


def answers(client, records: list[dict], headers: dict | None = None) -> list[dict]:
    response = client.post("/predict/batch", json={"records": records}, headers=headers or {})
    assert response.status_code == 200, response.text[:500]
    return response.json()["predictions"]


def test_the_files_are_written_as_people_write_them(files):
    """The cells sent are text: units, currency, thousands, percent, decimal commas."""
    listed, french = files["listings"]["written"], files["french"]["written"]
    texts = {k: [row[k] for row in listed if row[k]] for k in ("RAM", "Hard drive", "Price")}
    assert any(v.endswith(" gb") for v in texts["RAM"]) and any("GB" in v for v in texts["RAM"])
    assert any(v.endswith(" MB") for v in texts["Hard drive"])
    assert any(v.endswith(" GB") for v in texts["Hard drive"])
    assert any(v.startswith("$") for v in texts["Price"]) and any(
        " USD" in v for v in texts["Price"]
    )
    assert any(v.endswith("%") for v in (row["Discount"] for row in listed))
    assert all(row["Revenu annuel (€)"].count(",") == 1 for row in french)


@pytest.mark.parametrize("name", list(FILES))
def test_text_is_read_into_the_numbers_training_read(files, name):
    """The request model (both lanes use it) turns each written row into the row training read."""
    bundle = Bundle.load(files[name]["bundles"]["onnx"])
    record = record_model(bundle.schema, bundle.example[0])
    row_of = row_reader(len(bundle.schema.features), len(record.model_fields))
    for written, typed in zip(files[name]["written"], files[name]["typed"], strict=True):
        row = row_of(record.model_validate(written))
        for column, value in zip(bundle.schema.features, row, strict=True):
            if column.kind == "numeric":
                expected = typed[column.name]
                assert value == expected or value is expected is None, (column.name, written)


@pytest.mark.parametrize("lane", ["fast", "usual"])
@pytest.mark.parametrize("mode", ["onnx", "sklearn"])
@pytest.mark.parametrize("name", list(FILES))
def test_a_row_sent_as_the_file_writes_it_gets_the_typed_rows_answer(
    files, services, name, mode, lane
):
    client, trained = services[name, mode], files[name]
    headers = USUAL_LANE if lane == "usual" else {}
    typed = answers(client, trained["typed"], headers)
    assert answers(client, trained["written"], headers) == typed
    one = client.post("/predict", json=trained["written"][0], headers=headers)
    assert one.status_code == 200, one.text
    assert one.json()["prediction"] == typed[0]["prediction"]


def test_each_pattern_alone_gets_the_typed_answer(services):
    """One value at a time, written and typed: units, currency, percent, spelling, text."""
    client = services["listings", "onnx"]
    base = {
        "RAM": 8,
        "Hard drive": 0.73,
        "CPU speed": 2100,
        "Price": 1499,
        "Discount": 15,
        "Scraped at": "2025-04-01T10:00:00+0100",
        "Notes": "Scratches on the lid",
    }
    written = {
        "RAM": ["8 gb", "8GB", "8", " 8 GB "],
        "Hard drive": ["0.73 GB", "730 MB", "730mb", "0.73"],
        "CPU speed": ["2,100", "2100MHz", "2.1 GHz", "2100"],
        "Price": ["$1,499.00", "1,499", "1499 USD", "1499"],
        "Discount": ["15%", " 15 % ", "15"],
        "Notes": [" SCRATCHES on the lid ", "scratches  ON THE LID"],
    }
    expected = answers(client, [base])[0]
    for column, spellings in written.items():
        got = answers(client, [base | {column: spelling} for spelling in spellings])
        assert all(answer == expected for answer in got), (column, spellings, got)


def test_a_decimal_comma_file_reads_its_own_numbers(services):
    client = services["french", "onnx"]
    typed = {"Région": "Provence", "Revenu annuel (€)": 27602.23, "Âge": 41}
    expected = answers(client, [typed])[0]
    written = [
        {"Revenu annuel (€)": "27.602,23"},
        {"Revenu annuel (€)": "27602,23 €"},
        {"Revenu annuel (€)": "27\u00a0602,23"},
        {"Revenu annuel (€)": "27 602,23 €"},
        {"Revenu annuel (€)": "27\u202f602,23"},
        {"Âge": "41"},
        {"Région": " PROVENCE "},
    ]
    assert answers(client, [typed | w for w in written]) == [expected] * len(written)
    # A dot is this file's thousands separator, never its decimal mark: "0.31" is refused.
    response = client.post("/predict", json=typed | {"Revenu annuel (€)": "27602.2"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
        "body",
        "Revenu annuel (€)",
    ]


def test_a_json_number_is_read_as_before(services):
    client = services["listings", "onnx"]
    one = {
        "RAM": 16,
        "Hard drive": 1.5,
        "CPU speed": 3000.5,
        "Price": 999.99,
        "Discount": 0,
        "Scraped at": "2025-04-01T10:00:00+0100",
    }
    assert answers(client, [one]) == answers(client, [one | {"RAM": 16.0}])


@pytest.mark.parametrize("lane", ["fast", "usual"])
def test_columns_training_left_out_are_accepted_and_ignored(files, services, lane):
    client = services["listings", "onnx"]
    headers = USUAL_LANE if lane == "usual" else {}
    row = files["listings"]["typed"][0]
    left_out = {
        "URL": "https://shop.example/item/1",
        "Screen (in)": '17"',
        "Unnamed: 8": {"anything": [1, 2]},
    }
    assert answers(client, [row | left_out], headers) == answers(client, [row], headers)
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    ignored = {k for k, v in schema["properties"].items() if v.get("x-ignored")}
    assert ignored == {"URL", "Screen (in)", "Unnamed: 8"}
    assert "Accepted and ignored" in schema["properties"]["URL"]["description"]


@pytest.mark.parametrize("lane", ["fast", "usual"])
def test_excels_empty_trailing_column_is_ignored_under_its_blank_header(files, services, lane):
    """csv.DictReader names Excel's empty trailing column by its header, "": training saw it
    (pandas calls it 'Unnamed: 8') and left it out, so it is ignored, not an unknown field."""
    client = services["listings", "onnx"]
    headers = USUAL_LANE if lane == "usual" else {}
    row = files["listings"]["typed"][0]
    assert answers(client, [row | {"": ""}], headers) == answers(client, [row], headers)
    assert client.post("/predict", json=row | {"": None}, headers=headers).status_code == 200


@pytest.mark.parametrize("lane", ["fast", "usual"])
def test_a_column_training_never_saw_is_still_a_422(files, services, lane):
    client = services["french", "sklearn"]
    headers = USUAL_LANE if lane == "usual" else {}
    body = files["french"]["typed"][0] | {"Numéro de client": "C-1"}
    response = client.post("/predict", json=body, headers=headers)
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail["type"] == "extra_forbidden" and detail["loc"] == ["body", "Numéro de client"]


@pytest.mark.parametrize("lane", ["fast", "usual"])
@pytest.mark.parametrize(
    "column, text, expected",
    [
        ("RAM", "8 XB", "in GB"),  # a unit the table does not know
        ("Hard drive", "8 MHz", "in GB"),  # a unit of another quantity
        ("CPU speed", "fast", "is not a number"),
        ("Price", "1,49", "'1,234.5'"),  # not this file's way of writing numbers
        ("Hard drive", "N/A", "required"),  # a column without gaps in training
    ],
)
def test_text_that_is_no_number_is_a_422_naming_the_field(
    files, services, lane, column, text, expected
):
    client = services["listings", "sklearn"]
    headers = USUAL_LANE if lane == "usual" else {}
    response = client.post(
        "/predict", json=files["listings"]["typed"][0] | {column: text}, headers=headers
    )
    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["body", column] and detail["type"] == "number_type"
    assert expected in detail["msg"], detail["msg"]


def test_a_missing_marker_is_missing_where_training_had_gaps(services, files):
    """ "N/A", "--" and "inf" in a column with gaps are what training made of them: missing."""
    client = services["listings", "onnx"]
    row = files["listings"]["typed"][0]
    missing = answers(client, [row | {"RAM": None, "CPU speed": None, "Notes": None}])[0]
    for number, category in (("N/A", "N/A"), ("--", " -- "), ("inf", "null"), ("", "#N/A")):
        written = {"RAM": number, "CPU speed": number, "Notes": category}
        assert answers(client, [row | written])[0] == missing, (number, category)


@pytest.mark.parametrize("lane", ["fast", "usual"])
def test_a_blank_cell_sent_as_empty_text_is_missing_where_training_had_gaps(files, services, lane):
    """A CSV reader gives a blank cell as "": where the column had gaps, it is missing, as
    training read it, for a number, a category and a date alike; where it had none, "" is
    refused, as null is."""
    client = services["listings", "sklearn"]
    headers = USUAL_LANE if lane == "usual" else {}
    row = files["listings"]["typed"][0]
    blank = answers(client, [row | {"RAM": "", "Notes": "", "CPU speed": " "}], headers)
    assert blank == answers(client, [row | {"RAM": None, "Notes": None, "CPU speed": None}])
    refused = client.post("/predict", json=row | {"Scraped at": ""}, headers=headers)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == "Scraped at"
    bundle = Bundle.load(files["listings"]["bundles"]["onnx"])
    schema = bundle.schema.model_copy(deep=True)
    dated = next(column for column in schema.features if column.kind == "date")
    dated.nullable = True  # a scraped timestamp with gaps
    record = record_model(schema, bundle.example[0])
    missing = record.model_validate(row | {dated.name: None}).model_dump()
    for marker in ("", "N/A", " -- "):
        assert record.model_validate(row | {dated.name: marker}).model_dump() == missing, marker


def test_the_docs_show_how_each_number_may_be_written(services):
    """/openapi.json declares the grammar as each field's pattern: what /docs and clients see."""
    client = services["listings", "onnx"]
    properties = client.get("/openapi.json").json()["components"]["schemas"]["Record"]["properties"]
    ram = properties["RAM"]
    text = next(choice for choice in ram["anyOf"] if choice.get("type") == "string")
    assert "[gG][bB]" in text["pattern"] and "A number (unit: GB)" in ram["description"]
    pattern = re.compile(text["pattern"])
    assert pattern.match("8 gb") and pattern.match("$1,499") and not pattern.match("8 XB")


def readable_dates(body) -> None:
    """A date in a format other than 2024-03-01 has no JSON Schema name (its format is said
    in words, x-date-format): a drawn one is replaced by a date written that way."""
    records = body.get("records", [body]) if isinstance(body, dict) else []
    for record in records:
        if isinstance(record, dict) and "Scraped at" in record:
            record["Scraped at"] = "2025-04-01T10:00:00+0100"


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzzed_written_numbers_get_the_answers_the_schema_promises(files, mode):
    """The real uvicorn serving the unit columns: schemathesis draws text from each field's
    declared pattern (it must be accepted) and text outside it (it must be refused), never
    a 5xx: the pattern in /openapi.json is exactly what the service reads."""
    port = free_port()
    env = os.environ | {
        "MODEL_URI": str(files["listings"]["bundles"]["onnx"]),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz", timeout=60, process=process)
        schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")
        operations = [op.ok() for op in schema.get_all_operations()]
        for operation in [op for op in operations if op.path.startswith("/predict")]:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=60,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def as_documented(case):
                if mode == GenerationMode.POSITIVE:
                    readable_dates(case.body)
                case.call_and_validate()

            as_documented()
    finally:
        stop(process)
