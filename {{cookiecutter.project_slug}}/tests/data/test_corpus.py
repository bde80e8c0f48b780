"""The messy-data corpus (corpus.py): each file gets its expected decision, or its exact
data error with exit code 2 and no traceback, from the real `train` command line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data.load import DataError, read_csv
from {{ cookiecutter.package_name }}.data.prepare import Prepared, options_from, prepare
from {{ cookiecutter.package_name }}.data.report import decisions_table

from .corpus import Case, corpus

# Each case names its own target and task: the bake's task option changes nothing here.
pytestmark = pytest.mark.same_for_every_model

CASES = corpus()
DECISIONS = [case for case in CASES if case.kind]
ERRORS = [case for case in CASES if case.error]


def write(case: Case, folder: Path) -> Path:
    path = folder / "messy.csv"
    path.write_bytes(case.csv)
    return path


def decided(case: Case, folder: Path) -> tuple[dict, Prepared]:
    """The decisions for the case's file, with the case's settings as .env would give them."""
    given = {k.lower(): json.loads(v) if v.startswith("[") else v for k, v in case.settings.items()}
    settings = Settings(_env_file=None, **given)
    frame = read_csv(str(write(case, folder)), encoding=settings.csv_encoding)
    options = options_from(settings)
    prepared = prepare(frame, case.target, task=case.task, cv_folds=3, options=options)
    return {d.column: d for d in prepared.cleaning.decisions}, prepared


@pytest.mark.parametrize("case", DECISIONS, ids=[c.name for c in DECISIONS])
def test_decision(case, tmp_path):
    decisions, prepared = decided(case, tmp_path)
    assert decisions[case.column].kind == case.kind, decisions[case.column]
    features = [c.name for c in prepared.schema.features]
    assert (case.column in features) == (case.kind in ("numeric", "categorical", "date"))


@pytest.mark.parametrize("case", ERRORS, ids=[c.name for c in ERRORS])
def test_data_error(case, tmp_path):
    with pytest.raises(DataError) as raised:
        decided(case, tmp_path)
    assert case.error in str(raised.value)


def run_train(tmp_path: Path, data: Path, target: str, *extra: str, **env: str):
    source = Path({{ cookiecutter.package_name }}.__file__).resolve().parents[1]
    environment = os.environ | {
        "PYTHONPATH": str(source),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "MODELS_DIR": str(tmp_path / "models"),
        "REPORTS_DIR": str(tmp_path / "reports"),
        "COLUMNS": "200",  # a wide terminal: messages are checked whole
        **env,
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "{{ cookiecutter.package_name }}.model.train",
            "--data",
            str(data),
            "--target",
            target,
            *extra,
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("case", ERRORS, ids=[c.name for c in ERRORS])
def test_train_exits_2_with_the_message(case, tmp_path):
    extra = ["--task", case.task] if case.task else []
    result = run_train(tmp_path, write(case, tmp_path), case.target, *extra, **case.settings)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "error:" in result.stderr and case.error in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_decision_details(tmp_path):
    """What the report says was done: merged spellings, parsed text, junk and infinities counted."""
    by_name = {c.name: c for c in CASES}
    decisions, prepared = decided(by_name["categories normalised"], tmp_path)
    area = next(c for c in prepared.schema.features if c.name == "area")
    assert area.categories == ["downtown", "riverside"]
    # The file's " downtown " reaches us as "downtown " (pandas skips the initial space).
    assert sorted(area.merged["downtown"]) == [
        "DOWNTOWN",
        "Downtown",
        "downtown ",
        "Ｄｏｗｎｔｏｗｎ",
    ]
    decisions, prepared = decided(by_name["numbers written as text"], tmp_path)
    budget = prepared.features["budget"]
    assert budget.iloc[:3].tolist() == [1234.0, 3.5, 45.0] and budget.iloc[3:6].isna().all()
    decisions, _ = decided(by_name["a few junk values become missing"], tmp_path)
    assert "6 text values made missing ('unknown', 'see notes', 'ask')" in decisions["age"].done
    decisions, prepared = decided(by_name["infinite values become missing"], tmp_path)
    assert "5 infinite values made missing" in decisions["ratio"].done
    assert prepared.features["ratio"].isna().sum() == 5
    decisions, prepared = decided(by_name["semicolons and decimal commas"], tmp_path)
    assert prepared.schema.csv | {"encoding_why": "-"} == {
        "delimiter": "semicolon",
        "decimal": ",",
        "thousands": ".",
        "encoding": "UTF-8",
        "encoding_confidence": "certain",
        "encoding_why": "-",
    }
    assert 1 <= prepared.features["weight"].min() < prepared.features["weight"].max() <= 9


def test_dates_can_be_dropped(tmp_path):
    case = next(c for c in CASES if c.name == "dates become features")
    prepared = prepare(read_csv(str(write(case, tmp_path))), "price", dates="drop")
    assert "visited" in prepared.cleaning.excluded
    assert "visited" not in [c.name for c in prepared.schema.features]


def test_normalising_categories_can_be_turned_off(tmp_path):
    case = next(c for c in CASES if c.name == "categories normalised")
    prepared = prepare(read_csv(str(write(case, tmp_path))), "price", normalise_categories=False)
    area = next(c for c in prepared.schema.features if c.name == "area")
    assert len(area.categories) == 5 and not area.merged


def test_encoding_can_be_named(tmp_path):
    case = next(c for c in CASES if c.name == "latin-1 is read without a setting")
    frame = read_csv(str(write(case, tmp_path)), encoding="latin-1")
    assert set(frame["Région"]) == {"Île", "Nord"}


def test_units_are_converted_to_the_columns_most_common_unit(tmp_path):
    case = next(c for c in CASES if c.name == "scraped prices with units")
    raw = read_csv(str(write(case, tmp_path)))
    _, prepared = decided(case, tmp_path)
    drive = next(c for c in prepared.schema.features if c.name == "Hard drive")
    assert drive.unit == "GB" and drive.unit_factors["mb"] == 0.001
    written = raw["Hard drive"].iloc[: len(prepared.features)]
    for text, number in zip(written, prepared.features["Hard drive"], strict=True):
        amount, unit = text.split()
        assert number == pytest.approx(float(amount) * (0.001 if unit == "MB" else 1))
    speed, written = prepared.features["CPU speed"], raw["CPU speed"].iloc[: len(prepared.features)]
    bare = written.str.isdigit().fillna(False).to_numpy()
    assert bare.any() and (speed[bare] == written[bare].astype(float)).all()  # '2008': MHz
    assert prepared.features["RAM"].dropna().isin([4, 8, 16, 32]).all()  # '8GB', '8 gb' alike
    assert prepared.cleaning.duplicates_dropped == len(raw) // 51


def test_binary_units_are_converted_as_their_powers_of_two(tmp_path):
    case = next(c for c in CASES if c.name == "binary units (GiB, MiB) are data sizes")
    _, prepared = decided(case, tmp_path)
    measure = next(c for c in prepared.schema.features if c.name == "measure")
    assert measure.unit == "GiB" and measure.unit_factors["mib"] == 1 / 1024
    assert prepared.features["measure"].isin([4, 8, 16, 32]).all()  # '4096 MiB' is 4 GiB
    assert measure.unit_factors["gb"] == pytest.approx(1e9 / 2**30)


def test_a_grouped_split_is_part_of_the_models_identity(tmp_path):
    """A score on storms the model never saw and one on storms it trained on are not
    comparable: with GROUP_COLUMN=none the same columns get another fingerprint (and name),
    so the flattered score never replaces the grouped champion at the gate."""
    by_name = {c.name: c for c in CASES}
    _, grouped = decided(by_name["storm names in runs are groups"], tmp_path)
    _, ungrouped = decided(by_name["GROUP_COLUMN=none turns detection off"], tmp_path)
    assert grouped.schema.features == ungrouped.schema.features
    assert grouped.schema.fingerprint != ungrouped.schema.fingerprint


def test_target_spellings_become_one_class(tmp_path):
    case = next(c for c in CASES if c.name == "a cp1252 export with decimal commas")
    _, prepared = decided(case, tmp_path)
    assert prepared.schema.classes == ["Non", "Oui"]  # the most frequent spellings
    assert prepared.schema.target_merged == {
        "Non": ["Non", "Non ", "non"],
        "Oui": ["OUI", "Oui", "oui"],
    }
    target_row = decisions_table(prepared).iloc[0]
    assert target_row["what was done"].endswith("'OUI' / 'Oui' / 'oui' -> 'Oui'")
    assert set(prepared.target) == {"Non", "Oui"}


def test_decimal_commas_and_dot_thousands_are_read(tmp_path):
    case = next(c for c in CASES if c.name == "a cp1252 export with decimal commas")
    raw = read_csv(str(write(case, tmp_path)))
    income = raw["Revenu annuel (€)"]
    assert 15_000 <= income.min() < income.max() <= 90_000 and (income % 1 != 0).any()
    assert raw.attrs["csv"]["encoding"] == "cp1252"
    assert raw.attrs["csv"]["encoding_confidence"] == "likely"
    assert raw.columns[0] == "Numéro de dossier"


def test_a_stale_encoding_setting_is_refused_not_applied(tmp_path):
    """CSV_ENCODING=cp1252 left in .env for a French file would turn the next UTF-8 file's
    header into 'ï»¿Listing ID'; it is refused, naming the setting."""
    case = next(c for c in CASES if c.name == "a stale CSV_ENCODING on a UTF-8 file with a BOM")
    with pytest.raises(DataError, match=r"CSV_ENCODING=cp1252 cannot be right.*'ï»¿Listing ID"):
        read_csv(str(write(case, tmp_path)), encoding="cp1252")
    assert read_csv(str(write(case, tmp_path))).columns[0] == "Listing ID"


def test_an_encoding_setting_decides_only_a_guess(tmp_path):
    """Bytes that are not Western text: charset-normalizer guesses, and CSV_ENCODING wins."""
    path = tmp_path / "greek.csv"
    path.write_bytes(("όνομα,τιμή\n" + "Αθήνα,12\nΘεσσαλονίκη,15\n" * 20).encode("cp1253"))
    assert read_csv(str(path)).attrs["csv"]["encoding_confidence"] == "a guess"
    frame = read_csv(str(path), encoding="cp1253")
    assert list(frame.columns) == ["όνομα", "τιμή"]
    assert frame.attrs["csv"]["encoding_confidence"] == "CSV_ENCODING"
