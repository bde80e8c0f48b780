"""MLflow: log the run, register the model, and move the `champion` alias only when earned.

A registered model has numbered versions; an alias is a movable name for one
of them. Serving asks for `models:/<name>@champion`, so moving the alias is how
a new model goes live, and moving it back is a rollback.
"""

from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from ..bundle import trusted_types_of

CHAMPION = "champion"
# What the logged model needs to run: named explicitly, because MLflow's
# inference of requirements imports everything and costs ~8 s per run.
REQUIREMENTS = ["scikit-learn", "pandas", "numpy", "scipy", "skops"]


@dataclass
class Promotion:
    promoted: bool
    reason: str
    version: str
    previous_version: str | None = None


def pip_requirements() -> list[str]:
    return [f"{name}=={version(name)}" for name in REQUIREMENTS]


def log_model(pipeline, X: pd.DataFrame, name: str, package_dir: Path):
    """Log and register the pipeline. skops format (safe loading) with explicit trusted types.

    MLflow >= 3.17 saves scikit-learn models with skops, which refuses to load
    any type not listed as trusted; tree models need their internal types
    listed. We list exactly the types this pipeline contains, after checking
    each comes from scikit-learn, numpy, scipy or this package.
    """
    example = X.head(3)
    return mlflow.sklearn.log_model(
        sk_model=pipeline,
        name="model",
        serialization_format="skops",
        skops_trusted_types=trusted_types_of(pipeline),
        signature=infer_signature(example, pipeline.predict(example)),
        input_example=example,
        pip_requirements=pip_requirements(),
        code_paths=[str(package_dir)],  # so MLflow can import our custom transformer
        registered_model_name=name,
    )


def champion_version(client: MlflowClient, name: str):
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def promote_if_better(
    client: MlflowClient,
    name: str,
    new_version: str,
    score: float,
    metric: str,
    floor: float,
    fingerprint: str,
) -> Promotion:
    """The promotion gate: a floor every champion must reach, and the current champion to beat."""
    client.set_model_version_tag(name, new_version, "schema_fingerprint", fingerprint)
    client.set_model_version_tag(name, new_version, metric, f"{score:.6f}")
    current = champion_version(client, name)
    if score < floor:
        decision = Promotion(
            False, f"{metric} {score:.4f} is below the floor {floor:.4f}", new_version
        )
    elif current is None:
        decision = Promotion(
            True, f"first version to reach the floor ({metric} {score:.4f})", new_version
        )
    elif current.tags.get("schema_fingerprint") != fingerprint:
        decision = Promotion(
            False,
            f"its schema differs from champion v{current.version}'s: a model with other columns "
            "never replaces it. Leave MODEL_NAME empty to register under a name of its own.",
            new_version,
        )
    else:
        best = float(current.tags.get(metric, "-inf"))
        if score > best:
            decision = Promotion(
                True,
                f"{metric} {score:.4f} beats champion v{current.version} ({best:.4f})",
                new_version,
            )
        else:
            decision = Promotion(
                False,
                f"{metric} {score:.4f} does not beat champion v{current.version} ({best:.4f})",
                new_version,
            )
    if current is not None:
        decision.previous_version = str(current.version)
    if decision.promoted:
        client.set_registered_model_alias(name, CHAMPION, new_version)
    client.set_model_version_tag(name, new_version, "promotion", decision.reason)
    return decision
