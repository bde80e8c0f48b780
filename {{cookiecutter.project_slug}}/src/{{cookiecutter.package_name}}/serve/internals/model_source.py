"""Find the bundle folder that MODEL_URI names: a local folder, or one in the MLflow registry."""

from pathlib import Path

from ...contract.bundle import BundleError

REMOTE_SCHEMES = ("models:/", "runs:/")


def resolve_bundle(model_uri: str, tracking_uri: str) -> Path:
    if not model_uri.startswith(REMOTE_SCHEMES):
        path = Path(model_uri)
        if not path.is_dir():
            raise BundleError(
                f"No model bundle at '{model_uri}'. Run `make train`, or set MODEL_URI to a "
                "bundle folder (models/<registered name>) or models:/<name>@champion."
            )
        return path
    try:
        import mlflow  # mlflow-skinny is enough; only needed for registry URIs
    except ImportError as error:
        raise BundleError(
            f"MODEL_URI={model_uri} needs MLflow: pip install mlflow-skinny, or use a bundle folder."
        ) from error
    mlflow.set_tracking_uri(tracking_uri)
    run_id = _run_id(mlflow.MlflowClient(), model_uri)
    # Training logs the bundle with every run, under the artifact path "bundle".
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="bundle"))


def _run_id(client, model_uri: str) -> str:
    if model_uri.startswith("runs:/"):
        return model_uri.removeprefix("runs:/").split("/")[0]
    reference = model_uri.removeprefix("models:/")
    if "@" in reference:
        name, alias = reference.split("@", 1)
        return client.get_model_version_by_alias(name, alias).run_id
    name, _, version = reference.partition("/")
    return client.get_model_version(name, version).run_id
