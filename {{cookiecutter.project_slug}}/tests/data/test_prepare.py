"""Every bad-data case fails with a message that names the column or file and the fix."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data.load import DataError, read_csv
from {{ cookiecutter.package_name }}.data.prepare import prepare
from {{ cookiecutter.package_name }}.data.sample import TARGET


def frame(rows: int = 60, **columns) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    base = {
        "row id": [f"R{i}" for i in range(rows)],
        "Amount ($)": rng.normal(10, 2, rows),
        "colour": rng.choice(["red", "blue"], rows),
        "label": rng.choice(["a", "b"], rows),
    }
    return pd.DataFrame(base | columns)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(DataError, match="nope.csv' not found"):
        read_csv(str(tmp_path / "nope.csv"))


def test_a_folder_is_named_as_a_folder_with_the_fix(tmp_path):
    with pytest.raises(DataError, match=r"is a folder, not a file: name the CSV in it, e.g. DATA="):
        read_csv(str(tmp_path))


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_csv(str(tmp_path / "empty.csv"))


def test_header_only_file(tmp_path):
    (tmp_path / "header.csv").write_text("a,b,label\n")
    with pytest.raises(DataError, match="no rows"):
        read_csv(str(tmp_path / "header.csv"))


def test_absent_target_lists_the_columns():
    with pytest.raises(DataError, match=r"'price' is not in .*'colour'.*TARGET="):
        prepare(frame(), "price")


def test_single_class_target():
    with pytest.raises(DataError, match="single class"):
        prepare(frame(label=["a"] * 60), "label")


def test_all_missing_target():
    with pytest.raises(DataError, match="entirely missing"):
        prepare(frame(label=[None] * 60), "label")


def test_entirely_missing_column_is_left_out():
    prepared = prepare(frame(notes=[np.nan] * 60), "label")
    assert prepared.cleaning.excluded["notes"] == "dropped: entirely missing"


def test_entirely_missing_column_can_be_dropped():
    prepared = prepare(frame(notes=[np.nan] * 60), "label", drop=["notes"])
    assert "notes" in prepared.cleaning.excluded


def test_numeric_column_full_of_text():
    values = [str(v) for v in range(45)] + ["ten", "twelve", "n.a.", "x", "y"] * 3
    with pytest.raises(DataError, match="Column 'weight' is neither clearly numeric.*'ten'"):
        prepare(frame(weight=values), "label")


def test_declared_numeric_column_with_text_gets_missing_values():
    values = [str(v) for v in range(45)] + ["ten", "twelve", "n.a.", "x", "y"] * 3
    prepared = prepare(frame(weight=values), "label", numeric=["weight"])
    assert prepared.features["weight"].isna().sum() == 15


def test_fewer_rows_than_folds():
    with pytest.raises(DataError, match="fewer than the 5 cross-validation folds|too few"):
        prepare(frame(rows=6), "label", cv_folds=5)


def test_id_like_target_is_refused():
    with pytest.raises(DataError, match="'row id' has a different text value on every row"):
        prepare(frame(), "row id")


def test_a_numeric_id_target_is_refused_too():
    ids = frame(ID=np.arange(1001, 1061))
    with pytest.raises(DataError, match="'ID' looks like an ID .whole numbers"):
        prepare(ids, "ID")


def test_a_date_target_is_refused_as_a_date():
    dates = frame(listed=[f"2026-01-{day % 28 + 1:02d}" for day in range(60)])
    with pytest.raises(DataError, match="'listed' holds dates"):
        prepare(dates, "listed")


def test_whole_numbers_that_never_repeat_are_amounts_not_classes():
    rents = frame(rows=15, rent=np.arange(15) * 37 + 900)
    prepared = prepare(rents, "rent", cv_folds=3)
    assert prepared.schema.task == "regression"
    assert "too few repeats to be classes" in prepared.schema.task_reason


def test_a_rare_class_is_named_as_the_file_wrote_it():
    labels = frame(label=[1] * 58 + [2] * 2)
    with pytest.raises(DataError, match=r"Class 2 of target 'label' has only 2 rows") as error:
        prepare(labels, "label", cv_folds=5)
    assert "np." not in str(error.value)


def test_regression_target_must_be_numeric():
    with pytest.raises(DataError, match="'colour' must be numbers for regression, but 100.0%"):
        prepare(frame(), "colour", task="regression")


def test_cleaning_on_the_sample(sample_frame):
    prepared = prepare(sample_frame, TARGET)
    cleaning = prepared.cleaning
    assert cleaning.duplicates_dropped == sample_frame.duplicated().sum()
    assert len(prepared.features) == cleaning.rows_out
    # ID columns never become features; dates become date features.
    assert set(cleaning.excluded) == {c for c in sample_frame.columns if c.endswith("_id")}
    kinds = {c.name: c.kind for c in prepared.schema.features}
    assert all(kinds[c] == "date" for c in sample_frame.columns if c.endswith(("_date", "_on")))
    names = [column.name for column in prepared.schema.features]
    assert not set(names) & set(cleaning.excluded)
    assert any("(" in name for name in names), "messy column names survive as they are"


def test_task_is_inferred():
    assert prepare(frame(), "label").schema.task == "classification"
    assert prepare(frame(), "Amount ($)").schema.task == "regression"


def test_schema_records_types_categories_and_ranges(sample_frame):
    schema = prepare(sample_frame, TARGET).schema
    for column in schema.features:
        if column.kind == "numeric":
            assert column.min <= column.max
        elif column.kind == "date":
            assert column.earliest <= column.latest
        else:
            assert column.categories and all(isinstance(c, str) for c in column.categories)
    assert len(schema.fingerprint) == 12


def test_settings_steer_the_decisions(monkeypatch):
    from {{ cookiecutter.package_name }}.config import Settings
    from {{ cookiecutter.package_name }}.data.prepare import options_from

    monkeypatch.setenv("FEATURE_COLUMNS", '["colour"]')
    monkeypatch.setenv("NORMALISE_CATEGORIES", "false")
    monkeypatch.setenv("MAX_CATEGORIES", "7")
    monkeypatch.setenv("DATE_COLUMNS", "drop")
    options = options_from(Settings(_env_file=None))
    assert (options.features, options.normalise_categories) == (["colour"], False)
    assert (options.max_categories, options.dates) == (7, "drop")
    prepared = prepare(frame(), "label", options=options)
    assert [c.name for c in prepared.schema.features] == ["colour"]
    assert prepared.cleaning.excluded["Amount ($)"] == "dropped: not listed in FEATURE_COLUMNS"
