"""MLflow: log the run, register the model, and move the `champion` alias only when earned.

A registered model has numbered versions; an alias is a movable name for one
of them. Serving asks for `models:/<name>@champion`, so moving the alias is how
a new model goes live, and moving it back is a rollback.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from ..contract.bundle import exported_version, publish, trusted_types_of
from .errors import TrackingStoreError

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


def shown(score: float, other: float) -> tuple[str, str]:
    """Both scores with just enough digits to see how they differ (or that they tie)."""
    for digits in range(4, 18):
        a, b = f"{score:.{digits}f}", f"{other:.{digits}f}"
        if a != b:
            return a, b
    return f"{score:.4f}", f"{other:.4f}"


def compare_with_champion(current, score: float, metric: str, fingerprint: str):
    """(promoted, reason) against the current champion. Scores are compared at full precision,
    as stored (repr of the float), and a tie keeps the champion: an identical retrain is no gain."""
    if current.tags.get("schema_fingerprint") != fingerprint:
        return False, (
            f"its schema differs from champion v{current.version}'s: a model with other columns "
            "(or a split by another group) never replaces it. Leave MODEL_NAME empty to register "
            "under a name of its own"
        )
    best = float(current.tags.get(metric, "-inf"))
    new, old = shown(score, best)
    if score > best:
        return True, f"{metric} {new} beats champion v{current.version} ({old})"
    if score == best:
        return (
            False,
            f"{metric} {new} ties champion v{current.version} ({old}); a tie never promotes",
        )
    return False, f"{metric} {new} does not beat champion v{current.version} ({old})"


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
    # repr: the shortest text that reads back as exactly the same float.
    client.set_model_version_tag(name, new_version, metric, repr(float(score)))
    current = champion_version(client, name)
    if score < floor:
        promoted, reason = False, f"{metric} {score:.4f} is below the floor {floor:.4f}"
    elif current is None:
        promoted, reason = True, f"first version to reach the floor ({metric} {score:.4f})"
    else:
        promoted, reason = compare_with_champion(current, score, metric, fingerprint)
    decision = Promotion(promoted, reason, new_version)
    if current is not None:
        decision.previous_version = str(current.version)
    if decision.promoted:
        client.set_registered_model_alias(name, CHAMPION, new_version)
    client.set_model_version_tag(name, new_version, "promotion", decision.reason)
    return decision


def restore_champion(client: MlflowClient, name: str, previous_version: str | None) -> None:
    """Undo a promotion whose export failed: the alias and models/<name>/ must agree."""
    if previous_version is None:
        client.delete_registered_model_alias(name, CHAMPION)
    else:
        client.set_registered_model_alias(name, CHAMPION, previous_version)


def repair_export(client: MlflowClient, name: str, link: Path, staging: Path) -> str | None:
    """Make models/<name> hold @champion again, where an interrupted run left them apart.

    Promotion moves the alias first and exports second (the registry is the record; the
    folder is a copy of it). A run killed between the two leaves the alias on a version
    that models/<name> does not hold; every run after it would compare against the alias
    and never notice. So each run, under the champion lock, checks and re-exports the
    champion's bundle from its MLflow run (every run logs one). Returns what it did.
    """
    champion = champion_version(client, name)
    if champion is None or exported_version(link) == str(champion.version):
        return None
    held = exported_version(link)
    try:
        downloaded = Path(
            mlflow.artifacts.download_artifacts(
                run_id=champion.run_id, artifact_path="bundle", dst_path=str(staging)
            )
        )
    except (MlflowException, OSError) as error:
        return (
            f"{link} holds {f'v{held}' if held else 'no model'} while @champion is "
            f"v{champion.version}, and that version's bundle could not be fetched from MLflow "
            f"({str(error).splitlines()[0][:200]}): it stays so until a model beats the champion."
        )
    publish(downloaded, link)
    return (
        f"Repaired {link}: it held {f'v{held}' if held else 'no model'} while @champion is "
        f"v{champion.version} (an export was interrupted); exported v{champion.version}."
    )


def check_tracking_store(uri: str, experiment: str) -> None:
    """Before any work: can we reach the tracking store, and write to it? Raises TrackingStoreError."""
    try:
        mlflow.set_tracking_uri(uri)
        found = mlflow.set_experiment(experiment)
        # A real write, so a read-only or locked store fails now, not after training.
        MlflowClient().set_experiment_tag(found.experiment_id, "last_checked_by", "make train")
    except Exception as error:  # MlflowException, SQLAlchemy, OS and HTTP errors alike
        raise TrackingStoreError(tracking_problem(uri, error)) from None


def tracking_problem(uri: str, error: BaseException) -> str:
    """One line: which store, what went wrong, how to fix it."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # SQLAlchemy's messages start with the driver's own line: the most useful one.
    cause = next(
        (line for line in lines if "Error" in line or "error" in line), lines[0] if lines else ""
    )
    cause = cause[:300] or type(error).__name__
    return (
        f"The MLflow tracking store {uri} cannot be used: {cause}. Check that it exists and "
        "is writable by you (for sqlite: the file and its folder; not locked by another "
        "process), or set MLFLOW_TRACKING_URI to a store you can write to."
    )


@contextmanager
def champion_lock(models_dir: Path, name: str) -> Iterator[None]:
    """One `make train` at a time may compare, move the alias and export for this model.

    Two runs that read-compare-set at once could both "beat" the same champion; a
    file lock in the project folder makes the second wait for the first to finish.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, even on a crash
        yield
