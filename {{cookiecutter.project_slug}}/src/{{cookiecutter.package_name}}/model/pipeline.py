"""The scikit-learn pipeline: all preprocessing plus the model, fitted and saved as one object.

    numeric columns      -> fill gaps with the median -> clip outliers -> (scale, linear model only)
    numeric columns      -> one 0/1 "was missing" column for each that had gaps in training
    categorical columns  -> fill gaps with "missing" -> one-hot encode (unseen values -> all zeros)

Everything is learned in `fit` on the training rows only, and saved inside the
pipeline, so serving transforms a request exactly as training did.
"""

from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..transformers import QuantileClipper


def make_estimator(model: str, task: str, seed: int):
    classification = task == "classification"
    if model == "hist_gradient_boosting":
        cls = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
        # 100 rounds: on ~5,000 rows more rounds overfit (and cost time) more than they help.
        return cls(max_iter=100, learning_rate=0.1, early_stopping=False, random_state=seed)
    if model == "random_forest":
        cls = RandomForestClassifier if classification else RandomForestRegressor
        # n_jobs=1: parallelism comes from cross-validation and, when serving, from workers.
        return cls(n_estimators=150, min_samples_leaf=3, n_jobs=1, random_state=seed)
    if model == "linear":
        return LogisticRegression(max_iter=1000) if classification else Ridge(alpha=1.0)
    raise ValueError(
        f"Unknown model {model!r}: use hist_gradient_boosting, random_forest or linear."
    )


def make_preprocessor(schema: dict, scale: bool) -> ColumnTransformer:
    numeric = [c["name"] for c in schema["features"] if c["kind"] == "numeric"]
    categorical = [c["name"] for c in schema["features"] if c["kind"] == "categorical"]
    numeric_steps = [("impute", SimpleImputer(strategy="median")), ("clip", QuantileClipper())]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    categorical_steps = [
        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ]
    return ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), numeric),
            # A separate indicator (not add_indicator=True) so the pipeline converts to ONNX.
            ("was_missing", MissingIndicator(error_on_new=False), numeric),
            ("categorical", Pipeline(categorical_steps), categorical),
        ],
        sparse_threshold=0,
    )


def make_pipeline(schema: dict, model: str, seed: int) -> Pipeline:
    task = schema["task"]
    return Pipeline(
        [
            ("preprocess", make_preprocessor(schema, scale=model == "linear")),
            ("model", make_estimator(model, task, seed)),
        ]
    )


def make_baseline(task: str) -> Pipeline:
    """What a model must beat: always the most frequent class, or always the mean."""
    dummy = DummyClassifier(strategy="prior") if task == "classification" else DummyRegressor()
    return Pipeline([("model", dummy)])
