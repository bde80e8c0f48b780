"""Metrics keep their sign: only the errors scikit-learn negates (`neg_*`) are flipped back."""

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from {{ cookiecutter.package_name }}.model.evaluate import as_reported, cross_validated


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
