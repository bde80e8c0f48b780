"""Metrics keep their sign: only the errors scikit-learn negates (`neg_*`) are flipped back.
Splits keep a group's rows (a storm, a customer) on one side."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from {{ cookiecutter.package_name }}.model.evaluate import (
    as_reported,
    cross_validated,
    fold_splitter,
    hold_out_split,
)


def test_a_pure_noise_target_has_a_negative_r2():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 20)))
    y = pd.Series(rng.normal(size=200))
    scores = cross_validated(LinearRegression(), X, y, "regression", folds=5, seed=0)
    assert scores["cv_r2"] < 0  # worse than predicting the mean: it must say so
    assert scores["cv_rmse"] > 0 and scores["cv_mae"] > 0


def test_only_negated_scorers_are_flipped():
    assert as_reported("neg_root_mean_squared_error", -2.5) == 2.5
    assert as_reported("r2", -0.3) == -0.3
    assert as_reported("roc_auc_ovr", 0.7) == 0.7


def grouped_storms(tmp_path, runs: bool = True):
    from {{ cookiecutter.package_name }}.data.load import read_csv
    from {{ cookiecutter.package_name }}.data.prepare import prepare

    from ..data.corpus import storm_tracks

    (tmp_path / "storms.csv").write_text(storm_tracks(runs=runs).to_csv(index=False))
    return prepare(read_csv(str(tmp_path / "storms.csv")), "status")


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_grouped_file_keeps_each_group_on_one_side_of_every_split(tmp_path, task):
    prepared = grouped_storms(tmp_path)
    assert prepared.schema.group == {"column": "name", "groups": 60}
    y = prepared.target if task == "classification" else prepared.features["wind"]
    X_train, X_test, y_train, _ = hold_out_split(
        prepared.features, y, task, 0.2, 0, prepared.groups
    )
    train_groups = prepared.groups.loc[X_train.index]
    test_groups = set(prepared.groups.loc[X_test.index])
    assert test_groups and not set(train_groups) & test_groups
    assert len(X_train) + len(X_test) == len(prepared.features)
    folds = fold_splitter(task, 5, 0, grouped=True).split(X_train, y_train, train_groups)
    for fit_rows, score_rows in folds:
        assert not set(train_groups.iloc[fit_rows]) & set(train_groups.iloc[score_rows])


def test_without_groups_the_split_is_the_plain_one(tmp_path):
    """A scattered name is no group: the split stays today's stratified row split."""
    prepared = grouped_storms(tmp_path, runs=False)
    assert prepared.groups is None and "group" not in prepared.schema
    X_train, X_test, *_ = hold_out_split(
        prepared.features, prepared.target, "classification", 0.2, 0
    )
    names = storm_tracks_names(tmp_path)
    assert set(names.loc[X_train.index]) & set(names.loc[X_test.index])  # the leak groups prevent


def storm_tracks_names(tmp_path):
    return pd.read_csv(tmp_path / "storms.csv")["name"]
