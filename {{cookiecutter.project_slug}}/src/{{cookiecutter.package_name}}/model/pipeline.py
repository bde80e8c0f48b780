"""The scikit-learn pipeline: all preprocessing plus the model, fitted and saved as one object.

    numeric columns      -> fill gaps with the median -> clip outliers -> (scale, linear model only)
    numeric columns      -> one 0/1 "was missing" column for each that had gaps in training
    categorical columns  -> normalise (" DOWNTOWN " -> "downtown") -> fill gaps with "missing"
                            -> one-hot encode (rare values grouped; unseen values -> all zeros)
    date columns         -> year, month, day of week, days since the earliest date -> median fill

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

from ..contract.bundle import Feature, Schema
from ..contract.transformers import CategoryNormaliser, DateFeatures, QuantileClipper


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
    if (
        model == "xgboost"
    ):  # config.py has refused it where the project has no contract/xgboost_model.py
        from ..contract.xgboost_model import make_xgboost

        return make_xgboost(task, seed)
    raise ValueError(
        f"Unknown model {model!r}: use hist_gradient_boosting, random_forest, linear or xgboost."
    )


def device_of(pipeline: Pipeline) -> tuple[str, str]:
    """Where the model step trains ("cpu" or "cuda") and why: said in the log and the run."""
    model = pipeline.named_steps["model"]
    default = "scikit-learn's models train on the CPU"
    return getattr(model, "device", "cpu"), getattr(model, "device_reason", default)


def of_kind(schema: Schema, kind: str) -> list[Feature]:
    return [c for c in schema.features if c.kind == kind]


def make_preprocessor(schema: Schema, scale: bool) -> ColumnTransformer:
    numeric = schema.of_kind("numeric")
    numeric_steps = [("impute", SimpleImputer(strategy="median")), ("clip", QuantileClipper())]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    return ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), numeric),
            # A separate indicator (not add_indicator=True) so the pipeline converts to ONNX.
            ("was_missing", MissingIndicator(error_on_new=False), numeric),
            (
                "categorical",
                categorical_steps(schema),
                schema.of_kind("categorical"),
            ),
            ("dates", date_steps(schema, scale), schema.of_kind("date")),
        ],
        sparse_threshold=0,
    )


def categorical_steps(schema: Schema) -> Pipeline:
    columns = of_kind(schema, "categorical")
    normalise = all(c.normalise for c in columns)
    onehot = OneHotEncoder(
        handle_unknown="ignore",
        min_frequency=schema.rare_category_rows,
        sparse_output=False,
    )
    return Pipeline(
        [
            ("normalise", CategoryNormaliser(normalise=normalise)),
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("onehot", onehot),
        ]
    )


def date_steps(schema: Schema, scale: bool) -> Pipeline:
    columns = of_kind(schema, "date")
    features = DateFeatures(
        date_formats=tuple(c.date_format for c in columns),
        reference_days=tuple(c.reference_days for c in columns),
    )
    steps = [("features", features), ("impute", SimpleImputer(strategy="median"))]
    if scale:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps)


def make_pipeline(schema: Schema, model: str, seed: int) -> Pipeline:
    task = schema.task
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
