"""The model bundle: the one folder that training writes and everything later reads.

    models/champion/
      pipeline.skops       the fitted scikit-learn pipeline (preprocessing + model)
      model.onnx           the same pipeline, or its preprocessing part, for fast serving
      schema.json          columns, types, categories, ranges, target and task
      input_example.json   one real row: used by /readyz, the API docs and `make predict`
      metadata.json        model name, version, run id, metrics, when and from which commit

Serving, the Docker image and deploys read only this folder, so they need
neither MLflow nor the training code.
"""

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

PIPELINE_FILE = "pipeline.skops"
ONNX_FILE = "model.onnx"
SCHEMA_FILE = "schema.json"
EXAMPLE_FILE = "input_example.json"
METADATA_FILE = "metadata.json"

# skops refuses to load any type it is not told to trust; pickle would run any
# code hidden in the file. We trust only the libraries the pipeline is made of.
TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", f"{__package__}.")


class BundleError(RuntimeError):
    """The bundle folder is missing, incomplete, or holds something we will not load."""


def save_bundle(
    directory: Path,
    pipeline: Any,
    schema: dict,
    input_example: list[dict],
    metadata: dict,
    onnx_model: bytes | None = None,
) -> Path:
    """Write the bundle atomically: a crash half-way never leaves half a bundle behind."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    import skops.io

    try:
        skops.io.dump(pipeline, staging / PIPELINE_FILE)
        if onnx_model is not None:
            (staging / ONNX_FILE).write_bytes(onnx_model)
        for name, content in (
            (SCHEMA_FILE, schema),
            (EXAMPLE_FILE, input_example),
            (METADATA_FILE, metadata),
        ):
            (staging / name).write_text(json.dumps(content, indent=2, default=str) + "\n")
        if directory.exists():
            shutil.rmtree(directory)
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def read_json(directory: Path, name: str) -> Any:
    path = Path(directory) / name
    if not path.is_file():
        raise BundleError(
            f"{path} is missing: the model bundle is incomplete. Run `make train` to export it."
        )
    return json.loads(path.read_text())


def checked_trusted_types(untrusted: list[str], source: str) -> list[str]:
    """The types skops asks about, if all come from libraries we trust; else refuse."""
    refused = [name for name in untrusted if not name.startswith(TRUSTED_MODULE_PREFIXES)]
    if refused:
        raise BundleError(f"{source} contains types we do not trust: {', '.join(refused)}")
    return untrusted


def trusted_types_of(pipeline: Any) -> list[str]:
    """The exact types a fitted pipeline needs trusted (MLflow's skops_trusted_types)."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    return checked_trusted_types(untrusted, "the pipeline")


def load_pipeline(directory: Path) -> Any:
    """Load the fitted pipeline, trusting only types from the allowed libraries."""
    path = Path(directory) / PIPELINE_FILE
    if not path.is_file():
        raise BundleError(f"No model at {path}. Run `make train` first, or set MODEL_URI.")
    # Imported here: an image that serves through ONNX alone carries no scikit-learn or skops.
    import skops.io

    trusted = checked_trusted_types(skops.io.get_untrusted_types(file=path), str(path))
    return skops.io.load(path, trusted=trusted)
