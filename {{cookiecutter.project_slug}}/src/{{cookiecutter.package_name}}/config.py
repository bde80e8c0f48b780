"""Training settings, typed and in one place.

Every field can be set in `.env` or as an environment variable of the same
name in capitals (for example `CV_FOLDS=3 make train`). The command line
(`make train DATA=... TARGET=...`) wins over both.
"""

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

Task = Literal["classification", "regression"]
# The registered name of this project's own data set (DATA_PATH and TARGET): its champion is
# what `make serve`, `make docker-build` and `make deploy` use unless MODEL_URI says otherwise.
PROJECT_MODEL_NAME = "{{ cookiecutter.project_slug }}"
ModelKind = Literal["hist_gradient_boosting", "random_forest", "linear", "xgboost"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", protected_namespaces=())

    # Data: the sample written by `make data`, or your own CSV (local path or s3://bucket/key).
    data_path: str = "{{ 'data/raw/customers.csv' if cookiecutter.task == 'classification' else 'data/raw/used_cars.csv' }}"
    target: str = "{{ 'churned' if cookiecutter.task == 'classification' else 'price' }}"
    # None means "infer from the target column"; set it when inference guesses wrong.
    task: Task | None = None
    # Override column-type inference, or drop columns that must not be features.
    categorical_columns: list[str] = Field(default_factory=list)
    numeric_columns: list[str] = Field(default_factory=list)
    drop_columns: list[str] = Field(default_factory=list)
    # Use only these columns as features (empty: every column the decisions keep).
    feature_columns: list[str] = Field(default_factory=list)
    # Column decisions (data/decisions.py explains each rule).
    normalise_categories: bool = True  # " DOWNTOWN " and "downtown" are one category
    max_categories: int = Field(50, ge=2)  # more distinct values: left out, never one-hot
    min_category_count: int = Field(5, ge=1)  # rarer categories are grouped together
    date_columns: Literal["features", "drop"] = "features"
    max_columns: int = Field(1000, ge=1)  # wider files are refused up front
    # The column whose values identify an entity over several rows (a customer, a storm):
    # every split keeps its rows on one side. Unset: detected; "none": never a group.
    group_column: str | None = None
    # The file's text encoding is detected; this only overrides a low-confidence guess
    # (and is refused where it cannot be right for the file).
    csv_encoding: str | None = None

    # Model and evaluation.
    model: ModelKind = "{{ cookiecutter.model }}"
    seed: int = 42
    test_size: float = Field(0.2, gt=0, lt=1)
    cv_folds: int = Field(5, ge=2)

    # MLflow: a local sqlite file by default, a server when MLFLOW_TRACKING_URI says so.
    mlflow_tracking_uri: str = "sqlite:///mlflow.db"
    experiment_name: str = "{{ cookiecutter.project_slug }}"
    # Registered model name. `make train DATA=... TARGET=...` (another data set) registers
    # under a name derived from the file, target and columns, unless MODEL_NAME is set.
    model_name: str = PROJECT_MODEL_NAME
    # A model must beat the dummy baseline's cross-validated score by this much.
    baseline_margin: float = Field(0.02, allow_inf_nan=False)
    # Promotion gate: the held-out score (ROC-AUC or R²) a new champion must reach.
    promotion_floor: float = Field(0.6, allow_inf_nan=False)

    # Where outputs go (all git-ignored).
    models_dir: Path = Path("models")
    reports_dir: Path = Path("reports")
    # Your answers for the model card (who it is for, what not to use it for, where the data
    # came from): a small YAML file you write; the card marks each missing one "To fill in".
    model_card_notes: Path = Path("model_card.yaml")

    @field_validator("model")
    @classmethod
    def model_this_project_has(cls, model: str) -> str:
        """xgboost needs the code and packages that the template's model=xgboost option adds."""
        if model == "xgboost":
            if importlib.util.find_spec(f"{__package__}.xgboost_model") is None:
                raise ValueError(
                    "this project was generated without XGBoost (the template's model=xgboost "
                    "option adds it); use hist_gradient_boosting, random_forest or linear"
                )
            if not all(importlib.util.find_spec(name) for name in ("xgboost", "onnxmltools")):
                raise ValueError("xgboost or onnxmltools is not installed: run `make setup`")
        return model

    def bundle_dir(self, name: str) -> Path:
        """Where a registered model's champion is exported: models/<registered name>/."""
        return self.models_dir / name


class SettingsProblem(ValueError):
    """A value in .env or the environment that cannot be used (said in one line, exit 2)."""


def load_settings(**overrides) -> Settings:
    """Settings, or one line per problem: a typo in .env deserves no 60-line traceback."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']}"
            for problem in error.errors()
        )
        raise SettingsProblem(f"{problems}. Fix it in .env or the environment.") from None
    except SettingsError as error:  # a list setting that is not JSON
        raise SettingsProblem(
            f"{error}. List settings are JSON lists, e.g. NUMERIC_COLUMNS='[\"Area\"]'."
        ) from None
