"""Training settings, typed and in one place.

Every field can be set in `.env` or as an environment variable of the same
name in capitals (for example `CV_FOLDS=3 make train`). The command line
(`make train DATA=... TARGET=...`) wins over both.
"""

import importlib.util
import os
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from .errors import BadInput

Task = Literal["classification", "regression"]
# The registered name of this project's own data set (DATA_PATH and TARGET): its champion is
# what `make serve`, `make docker-build` and `make deploy` use unless MODEL_URI says otherwise.
# The project's name: its folder, image, experiment and app (one place; every part reads it).
PROJECT = "{{ cookiecutter.project_slug }}"
PROJECT_MODEL_NAME = PROJECT
ModelKind = Literal["hist_gradient_boosting", "random_forest", "linear", "xgboost"]
S = TypeVar("S", bound=BaseSettings)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", protected_namespaces=(), frozen=True
    )

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
    experiment_name: str = PROJECT
    # Registered model name. `make train DATA=... TARGET=...` (another data set) registers
    # under a name derived from the file, target and columns, unless MODEL_NAME is set.
    # None: a name derived from the data set (what `make train DATA=... TARGET=...` uses).
    model_name: str | None = PROJECT_MODEL_NAME
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
            if importlib.util.find_spec(f"{__package__}.contract.xgboost_model") is None:
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


class SettingsProblem(BadInput, ValueError):
    """A value in .env or the environment that cannot be used (said in one line, exit 2)."""


def where_set(name: str, env_file: Path = Path(".env")) -> str | None:
    """Where a setting is given: "in .env", "in the environment", or None. For names no longer
    read, which pydantic-settings would ignore without a word (they are refused instead)."""
    if env_file.is_file() and name in dotenv_values(env_file):
        return "in .env"
    return "in the environment" if name in os.environ else None


def renamed(old: str, new: str, why: str) -> Any:
    """A settings class's check that refuses a setting's old name, which pydantic-settings would
    ignore without a word (a value that silently changes nothing). Use as a class attribute:
    `_renamed = renamed("MONITOR_REPORTS_DIR", "REPORTS_DIR", "one folder for every report")`."""

    def refuse(cls: type, data: Any) -> Any:
        where = where_set(old)
        if where:
            raise ValueError(f"{old} ({where}) is no longer read: {why}. Rename {old}= to {new}=")
        return data

    return model_validator(mode="before")(refuse)


def settings_class(name: str) -> type[BaseSettings] | None:
    """The settings class a ValidationError's title names (every one subclasses BaseSettings)."""
    pending = list(BaseSettings.__subclasses__())
    while pending:
        kind = pending.pop()
        if kind.__name__ == name:
            return kind
        pending += kind.__subclasses__()
    return None


def env_name(kind: type[BaseSettings], location: tuple) -> str:
    """The variable a problem's location means, as written in .env (MONITOR_ROWS, LOG_MAX_MB)."""
    field = kind.model_fields.get(str(location[0]))
    if field is None:  # already the variable: the field reads an alias (validation_alias)
        return str(location[0]).upper()
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        alias = alias.choices[0]
    if isinstance(alias, str):
        return alias.upper()
    return f"{kind.model_config.get('env_prefix', '')}{location[0]}".upper()


# pydantic-settings' words for a list setting that is not JSON, and where it read it.
NOT_JSON = re.compile(r'field "(\w+)" from source "(\w+)"')
SOURCES = {"DotEnvSettingsSource": "in .env", "EnvSettingsSource": "in the environment"}


def not_a_json_list(error: SettingsError, kind: type[BaseSettings] | None) -> SettingsProblem:
    """NUMERIC_COLUMNS=Area: named as written in .env, and how to write it."""
    found = NOT_JSON.search(str(error))
    if found is None:
        return SettingsProblem(
            f"{error}. List settings are JSON lists, e.g. NUMERIC_COLUMNS='[\"Area\"]'."
        )
    field, source = found.groups()
    name = env_name(kind, (field,)) if kind else field.upper()
    where = SOURCES.get(source, f"from {source}")
    return SettingsProblem(
        f'{name} ({where}) is not a JSON list: write it as {name}=\'["a column", "another"]\'. '
        "Fix it in .env or the environment."
    )


def settings_problem(
    error: ValidationError | SettingsError, kind: type[BaseSettings] | None = None
) -> SettingsProblem | None:
    """One line for everything a settings class refused; None when no settings class did.

    Never the value itself: API_KEY must not reach a terminal or a log.
    """
    if isinstance(error, SettingsError):  # a list setting that is not JSON
        return not_a_json_list(error, kind)
    kind = settings_class(error.title)
    if kind is None:
        return None
    problems = "; ".join(
        f"{env_name(kind, problem['loc'])}: {problem['msg']}"
        if problem["loc"]
        else problem["msg"].removeprefix("Value error, ")  # a check of the whole class
        for problem in error.errors(include_url=False)
    )
    return SettingsProblem(f"{problems}. Fix it in .env or the environment.")


def load(kind: type[S], **overrides) -> S:
    """Settings, or SettingsProblem: a typo in .env deserves no 60-line traceback."""
    try:
        return kind(**overrides)
    except (ValidationError, SettingsError) as error:
        problem = settings_problem(error, kind)
        if problem is None:
            raise
        raise problem from None


def load_settings(**overrides) -> Settings:
    """Training's settings, or one line per problem (SettingsProblem)."""
    return load(Settings, **overrides)
