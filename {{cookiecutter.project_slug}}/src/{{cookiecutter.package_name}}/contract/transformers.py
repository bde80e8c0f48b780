"""Custom pipeline steps, kept in their own small module.

Training builds the pipeline with these classes and serving loads it back, so
both sides import this file (and nothing else of each other). Each step is
small enough to have an ONNX converter (model/onnx/export.py).
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .values import category_text, days_since_epoch, normalise_category

DATE_PARTS = ("year", "month", "day_of_week", "days_since_reference")


class QuantileClipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each numeric column to the quantiles seen in the training data.

    A typo such as a price of 9,999,999 would otherwise drag a linear model far
    off. The bounds are learned in `fit`, i.e. on the training split only, so no
    information leaks from the test set.
    """

    def __init__(self, lower: float = 0.01, upper: float = 0.99):
        self.lower = lower
        self.upper = upper

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        self.lower_bounds_ = np.nanquantile(X, self.lower, axis=0)
        self.upper_bounds_ = np.nanquantile(X, self.upper, axis=0)
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        return np.clip(X, self.lower_bounds_, self.upper_bounds_)


def _map_unique(column, function) -> np.ndarray:
    """Apply `function` once per distinct value: real columns repeat their values a lot."""
    series = pd.Series(np.asarray(column, dtype=object))
    present = series[series.notna()]
    lookup = {value: function(value) for value in present.unique()}
    return series.map(lookup).to_numpy(dtype=object)  # missing values map to NaN


class CategoryNormaliser(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """' DOWNTOWN ' -> 'downtown': one spelling per category, at training and at serving.

    With `normalise=False` values are only turned into text (2 and "2" still agree).
    Missing and blank values become NaN, for the imputer that follows.
    """

    def __init__(self, normalise: bool = True):
        self.normalise = normalise

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        rule = normalise_category if self.normalise else self._as_text
        matrix = np.asarray(X, dtype=object)
        columns = [_map_unique(matrix[:, i], rule) for i in range(matrix.shape[1])]
        out = np.column_stack(columns) if columns else matrix
        return np.where(pd.isna(out), np.nan, out).astype(object)

    @staticmethod
    def _as_text(value):
        return None if pd.isna(value) else category_text(value)


def date_parts(days: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Year, month, day of week (Monday = 0) and days since `reference`, from days since
    1970-01-01, as blocks of columns: all years, then all months, and so on.

    The calendar arithmetic (H. Hinnant's civil_from_days) uses only +, *, floor: the
    ONNX converter repeats it operation for operation."""
    z = days + 719468.0
    era = np.floor(z / 146097.0)
    doe = z - era * 146097.0
    yoe = np.floor(
        (doe - np.floor(doe / 1460.0) + np.floor(doe / 36524.0) - np.floor(doe / 146096.0)) / 365.0
    )
    doy = doe - (365.0 * yoe + np.floor(yoe / 4.0) - np.floor(yoe / 100.0))
    mp = np.floor((5.0 * doy + 2.0) / 153.0)
    month = mp + 3.0 - 12.0 * (mp >= 10.0)
    year = yoe + era * 400.0 + (month <= 2.0)
    weekday = days + 3.0 - 7.0 * np.floor((days + 3.0) / 7.0)
    return np.hstack([year, month, weekday, days - reference])


class DateFeatures(TransformerMixin, BaseEstimator):
    """Turn date columns (text in `date_formats`) into numbers a model can use.

    The formats and reference days come from the column decisions (schema.json);
    unreadable dates become NaN, for the imputer that follows.
    """

    def __init__(self, date_formats: tuple = (), reference_days: tuple = ()):
        self.date_formats = date_formats
        self.reference_days = reference_days

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def days(self, X) -> np.ndarray:
        matrix = np.asarray(X, dtype=object)
        columns = [
            _map_unique(matrix[:, i], lambda v, f=fmt: days_since_epoch(v, f))
            for i, fmt in enumerate(self.date_formats)
        ]
        return np.column_stack(columns).astype(np.float64)

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        return date_parts(self.days(X), np.asarray(self.reference_days, dtype=np.float64))

    def get_feature_names_out(self, input_features=None):
        names = getattr(self, "feature_names_in_", input_features)
        if names is None:
            names = [f"x{i}" for i in range(self.n_features_in_)]
        return np.asarray([f"{name}_{part}" for part in DATE_PARTS for name in names], dtype=object)
