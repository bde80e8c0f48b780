"""The model bundle: the one folder that training writes and everything later reads.

    models/<registered name>/   (a link to models/.bundles/<name>-v<version>-<id>/)
      pipeline.skops       the fitted scikit-learn pipeline (preprocessing + model)
      model.onnx           the same pipeline, or its preprocessing part, for fast serving
      schema.json          columns, types, categories, ranges, target and task
      input_example.json   one real row: used by /readyz, the API docs and `make predict`
      metadata.json        model name, version, run id, metrics, trusted types, commit
      reference.json       training distributions, for drift monitoring (contract/drift_rules.py)
      model_card.md        what it predicts, the data, how well, its limits (model/card.py)

`Bundle.load(folder)` reads and validates the three JSON files once, into typed
objects; every error names the file and the problem. Serving, the Docker image
and deploys read only this folder, so they need neither MLflow nor the training code.
"""

import importlib
import importlib.util
import inspect
import json
import os
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ColdstartError
from .drift_rules import Reference
from .tree_checks import TamperedModel, check_trees

PIPELINE_FILE = "pipeline.skops"
ONNX_FILE = "model.onnx"
SCHEMA_FILE = "schema.json"
EXAMPLE_FILE = "input_example.json"
METADATA_FILE = "metadata.json"
REFERENCE_FILE = "reference.json"
CARD_FILE = "model_card.md"
VERSIONS_FOLDER = ".bundles"
# Folders in .bundles/ that are not (yet) an export: `.staging-<pid>-...`.
STAGING_PREFIX = ".staging-"
# How many exported versions of one model stay on disk (the live one and the one before).
KEEP_VERSIONS = 2

# What the ONNX graph holds: the whole pipeline, or only its preprocessing (the model
# then runs in scikit-learn). The same words in metadata.json, in training and in serving.
OnnxScope = Literal["pipeline", "preprocessing"]

# skops refuses to load any type it is not told to trust; pickle would run any code
# hidden in the file. skops itself trusts plain data (lists, dicts, numpy arrays) and
# scikit-learn's estimators. Beyond those, a bundle may hold exactly the types below:
# fixed here, reviewed, and never widened by anything inside a bundle (metadata.json's
# list is a record of what training saw, not a permission). A rule such as "any class
# under numpy." is not safe: `numpy.distutils.fcompiler.gnu.Popen` *is* subprocess.Popen,
# and `numpy.memmap` creates or truncates any file it is given.
PIPELINE_STEP_TYPES = frozenset(
    f"{__package__}.transformers.{name}"
    for name in ("CategoryNormaliser", "DateFeatures", "QuantileClipper")
)
# XGBoost's steps, where the project has them (generated with model=xgboost): their state is
# plain data and the booster as JSON text, checked before xgboost reads it (contract/xgboost_model.py).
if importlib.util.find_spec(f"{__package__}.xgboost_model") is not None:
    PIPELINE_STEP_TYPES |= {
        f"{__package__}.xgboost_model.{name}" for name in ("XGBoostClassifier", "XGBoostRegressor")
    }
# Fitted state that is data, not behaviour: a dtype and the trees of the tree models.
DATA_TYPES = frozenset(
    {
        "numpy.dtype",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)
ALLOWED_TYPES = PIPELINE_STEP_TYPES | DATA_TYPES

# Where the pipeline steps' modules lived before they moved into contract/: a bundle
# trained then records its types under these names (in pipeline.skops and metadata.json).
# Such a name is read as its new one, the same class: never a wider list.
PACKAGE = __package__.rpartition(".")[0]
MOVED_MODULES = {
    f"{PACKAGE}.{name}": f"{__package__}.{name}" for name in ("transformers", "xgboost_model")
}


def current_name(type_name: str) -> str:
    """A type's name as this layout spells it (the same name, unless its module moved)."""
    module, _, attribute = type_name.rpartition(".")
    return f"{MOVED_MODULES[module]}.{attribute}" if module in MOVED_MODULES else type_name


def alias_moved_modules(type_names: list[str]) -> None:
    """Let skops import a moved module under its old name, for the types it is asked for."""
    for name in type_names:
        module = name.rpartition(".")[0]
        if module in MOVED_MODULES:
            sys.modules.setdefault(module, importlib.import_module(MOVED_MODULES[module]))


class BundleError(ColdstartError, RuntimeError):
    """The bundle folder is missing, incomplete, or holds something we will not load (exit 1)."""


class UntrustedBundle(BundleError):
    """The bundle asks for a type we never load: it was tampered with, so none of it serves."""

    exit_code = 2


class Feature(BaseModel):
    # extra="allow": data preparation may record more about a column than serving needs.
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    kind: Literal["numeric", "categorical", "date"]
    nullable: bool
    # numeric: the range seen in training; a column read with units: its unit ("MB") and
    # every spelling of its quantity's units -> how many of `unit` one is ("gb": 1000.0).
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    unit_factors: dict[str, float] = Field(default_factory=dict)
    # categorical: the known values (normalised when `normalise` is on).
    categories: list[Any] = Field(default_factory=list)
    normalise: bool = True
    # Training only: the spellings merged into each category ({"Oui": ["OUI", "oui"]}).
    merged: dict[str, list[Any]] = Field(default_factory=dict)
    # date: how the file wrote it (a strftime format) and the span seen in training.
    date_format: str | None = None
    earliest: str | None = None
    latest: str | None = None
    # The earliest date as days since 1970: the date features count "days since" from it.
    reference_days: float | None = None


class Schema(BaseModel):
    model_config = ConfigDict(extra="allow")

    target: str
    task: Literal["classification", "regression"]
    features: list[Feature] = Field(min_length=1)
    classes: list[Any] | None = None
    fingerprint: str
    # The columns training left out, with why: a request may carry them, and they are ignored.
    excluded: dict[str, str] = Field(default_factory=dict)
    # How the training file wrote numbers: a request's text is read the same way.
    number_format: dict[str, str] = Field(
        default_factory=lambda: {"decimal": ".", "thousands": ","}
    )
    # What training recorded, for the reports and the card (serving reads none of it): why
    # this task, every column's decision, how the file was read (csv), the target's merged
    # spellings, the row count under which categories become one, and the group column
    # whose rows every split keeps together ({"column": ..., "groups": n}).
    task_reason: str = ""
    decisions: list[dict[str, Any]] = Field(default_factory=list)
    csv: dict[str, Any] = Field(default_factory=dict)
    target_merged: dict[str, list[Any]] = Field(default_factory=dict)
    rare_category_rows: int | None = None
    group: dict[str, Any] | None = None

    @property
    def names(self) -> list[str]:
        return [feature.name for feature in self.features]

    def of_kind(self, kind: str) -> list[str]:
        return [feature.name for feature in self.features if feature.kind == kind]


class Metadata(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, protected_namespaces=())

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    run_id: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)
    primary_metric: str = ""
    model: str = ""
    onnx: OnnxScope | None = None
    trusted_types: list[str] = Field(default_factory=list)
    trained_at: str = ""
    code_version: str = "unknown"
    package_version: str = ""


Example = list[dict[str, Any]]


def _read(directory: Path, name: str, model: Any) -> Any:
    """Parse and validate one JSON file; any problem names the file."""
    path = directory / name
    if not path.is_file():
        raise BundleError(
            f"{path} is missing: the model bundle is incomplete. Run `make train` to export it."
        )
    try:
        content = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(
            f"{path} is not valid JSON ({error}). Re-export it: `make train`."
        ) from None
    try:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate(content)
        return _validate_example(content)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'top level'}: {e['msg']}"
            for e in error.errors()[:3]
        )
        raise BundleError(f"{path} does not match the bundle format: {problems}.") from None
    except ValueError as error:
        raise BundleError(f"{path}: {error}.") from None


def not_plain(directory: Path) -> list[str]:
    """What inside the bundle is not a plain file or folder: links, pipes, devices, sockets."""
    found = []
    for folder, subfolders, files in os.walk(directory):  # never follows links below the top
        for name in [*subfolders, *files]:
            path = Path(folder, name)
            if path.is_symlink():
                found.append(f"{path.relative_to(directory)} (a link to {os.readlink(path)})")
            elif not (path.is_dir() or path.is_file()):
                found.append(f"{path.relative_to(directory)} (not a plain file)")
    return found


def _check_plain_files(directory: Path) -> None:
    """Training writes plain files only: a link or a device inside a bundle (pipeline.skops
    pointing at /dev/zero, a link to /etc that a copy would follow) was put there by hand,
    so none of the bundle is trusted."""
    strays = not_plain(directory)
    if strays:
        raise UntrustedBundle(
            f"{directory} holds {', '.join(strays)}: a bundle is plain files only "
            "(`make train` writes nothing else). Refused."
        )


def _validate_example(content: Any) -> Example:
    if not isinstance(content, list) or not content:
        raise ValueError("expected a list with at least one record")
    if not all(isinstance(row, dict) for row in content):
        raise ValueError("every record must be a JSON object")
    return content


@dataclass(frozen=True)
class Bundle:
    directory: Path
    schema: Schema
    metadata: Metadata
    example: Example
    # None for a bundle exported before monitoring existed: it serves, without drift metrics.
    reference: Reference | None = None

    @classmethod
    def load(cls, directory: Path | str) -> "Bundle":
        """Read and check the JSON files. The model itself loads later (`load_pipeline`)."""
        directory = Path(directory)
        if not directory.is_dir():
            raise BundleError(
                f"No model bundle at '{directory}'. Run `make train`, or set MODEL_URI "
                "to a bundle folder (models/<name>) or models:/<name>@champion."
            )
        _check_plain_files(directory)
        schema = _read(directory, SCHEMA_FILE, Schema)
        metadata = _read(directory, METADATA_FILE, Metadata)
        example = _read(directory, EXAMPLE_FILE, Example)
        missing = [name for name in schema.names if name not in example[0]]
        if missing:
            raise BundleError(
                f"{directory / EXAMPLE_FILE}: the example lacks the columns {missing} "
                f"that {SCHEMA_FILE} lists. Re-export the bundle: `make train`."
            )
        reference = (
            _read(directory, REFERENCE_FILE, Reference)
            if (directory / REFERENCE_FILE).exists()
            else None
        )
        return cls(directory, schema, metadata, example, reference)

    @property
    def onnx_path(self) -> Path | None:
        path = self.directory / ONNX_FILE
        return path if path.is_file() and self.metadata.onnx else None

    def load_pipeline(self) -> Any:
        """The fitted pipeline, trusting only the project's own list (ALLOWED_TYPES)."""
        path = self.directory / PIPELINE_FILE
        if not path.is_file():
            raise BundleError(f"{path} is missing. Run `make train`, or set MODEL_URI.")
        # Imported here: an image that serves through ONNX alone carries no skops (ImportError:
        # the caller serves from ONNX), nor the scikit-learn that the checks below import.
        import skops.io

        checked_trusted_types(self.metadata.trusted_types, str(self.directory / METADATA_FILE))

        try:
            asked = skops.io.get_untrusted_types(file=path)
        except Exception as error:  # not a zip, no schema inside: skops raises many types
            raise BundleError(f"{path} is not a readable skops file ({error}).") from None
        refused = sorted({current_name(name) for name in asked} - ALLOWED_TYPES)
        if refused:
            raise UntrustedBundle(
                f"{path} asks to load types that are not on this project's allow-list: "
                f"{', '.join(refused)}. Refused: a model file must never run code. "
                "Use a bundle that this project's `make train` exported."
            )
        alias_moved_modules(asked)
        try:
            pipeline = skops.io.load(path, trusted=sorted(asked))
        except (
            TamperedModel
        ) as problem:  # a step's own check, as it loaded (contract/xgboost_model.py)
            raise UntrustedBundle(
                f"{path}: {problem}. Refused: the model file was tampered with. Use a bundle "
                "that this project's `make train` exported."
            ) from None
        except Exception as error:
            raise BundleError(
                f"{path} could not be loaded ({type(error).__name__}: {error})."
            ) from None
        try:  # before anything predicts: a crafted tree crashes the process, not a request
            check_trees(pipeline, str(path))
        except (ValueError, RecursionError) as problem:
            raise UntrustedBundle(
                f"{problem}. Refused: the model file was tampered with. Use a bundle that "
                "this project's `make train` exported."
            ) from None
        return pipeline


def is_what_it_claims(name: str) -> bool:
    """`name` imports as a class defined under that very name (no alias), of the kind it is
    listed as: one of our pipeline steps (a scikit-learn estimator) or a data type.

    Only ever called on names already on the allow-list, so it imports only modules we
    chose; an ImportError (a lean image without scikit-learn) reaches the caller.
    """
    module_name, _, attribute = name.rpartition(".")
    found = getattr(importlib.import_module(module_name), attribute, None)
    if not inspect.isclass(found) or f"{found.__module__}.{found.__qualname__}" != name:
        return False
    if name in PIPELINE_STEP_TYPES:
        from sklearn.base import BaseEstimator

        return issubclass(found, BaseEstimator)
    return name in DATA_TYPES


def checked_trusted_types(names: list[str], source: str) -> list[str]:
    """The given type names, if each is on the allow-list and is what it claims; else refuse."""
    # Membership first: a name off the list is never imported (importing runs module code).
    current = [current_name(name) for name in names]
    refused = [name for name in current if name not in ALLOWED_TYPES]
    refused += [name for name in current if name in ALLOWED_TYPES and not is_what_it_claims(name)]
    if refused:
        raise UntrustedBundle(
            f"{source} lists types we never trust: {', '.join(refused)}. A model file may hold "
            "only this project's pipeline steps and the data types in bundle.ALLOWED_TYPES."
        )
    return list(names)


def trusted_types_of(pipeline: Any) -> list[str]:
    """The exact types a fitted pipeline needs trusted (also MLflow's skops_trusted_types).

    A pipeline that needs a type off the allow-list stops training here, before anything is
    saved: review the type (is it data, or an estimator?) and add it to ALLOWED_TYPES.
    """
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    return checked_trusted_types(sorted(untrusted), "the pipeline")


def write_bundle(
    directory: Path,
    pipeline: Any,
    schema: Schema,
    example: Example,
    metadata: Metadata,
    onnx_model: bytes | None = None,
    reference: Reference | None = None,
    card: str | None = None,
) -> Path:
    """Write a complete bundle into a new, empty folder (for MLflow, or to publish)."""
    import skops.io

    directory.mkdir(parents=True)
    skops.io.dump(pipeline, directory / PIPELINE_FILE)
    if onnx_model is not None:
        (directory / ONNX_FILE).write_bytes(onnx_model)
    files = {
        SCHEMA_FILE: schema.model_dump(mode="json"),
        EXAMPLE_FILE: example,
        METADATA_FILE: metadata.model_dump(mode="json"),
    }
    if reference is not None:
        files[REFERENCE_FILE] = reference.model_dump(mode="json")
    for name, content in files.items():
        (directory / name).write_text(json.dumps(content, indent=2, default=str) + "\n")
    if card is not None:
        (directory / CARD_FILE).write_text(card, encoding="utf-8")
    return directory


def staging_folder(models_dir: Path) -> Path:
    """A new, empty folder to write a bundle in before it is published, beside the exports.

    In models/ rather than /tmp: on the same disk (publishing is then a rename of a whole
    folder), checked writable before training starts, and found again after a crash. The
    folder's name holds the process id, so the next run removes what a killed one left.
    """
    versions = models_dir / VERSIONS_FOLDER
    versions.mkdir(parents=True, exist_ok=True)
    remove_leftovers(versions)
    return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=versions))


def remove_leftovers(versions: Path) -> None:
    """Staging and half-copied folders of processes that no longer run (a kill -9, a crash)."""
    for path in versions.glob(f"{STAGING_PREFIX}*"):
        if not _process_alive(path.name.removeprefix(STAGING_PREFIX).split("-")[0]):
            shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def publish(staged: Path, link: Path) -> Path:
    """Make `link` (models/<name>) point at a copy of the staged bundle, in one atomic rename.

    The copy is made under a staging name, then renamed into place (a crash mid-copy leaves
    a staging folder, never a half bundle under a real name); then a new symbolic link
    replaces the old link with os.replace, which is atomic: a reader, or a crash at any
    moment, sees the old bundle or the new one, never none and never half of one.
    """
    versions = link.parent / VERSIONS_FOLDER
    versions.mkdir(parents=True, exist_ok=True)
    metadata = Bundle.load(staged).metadata
    target = versions / f"{link.name}-v{metadata.version}-{secrets.token_hex(4)}"
    copying = versions / f"{STAGING_PREFIX}{os.getpid()}-{target.name}"
    shutil.copytree(staged, copying, symlinks=True)
    copying.rename(target)
    if link.is_dir() and not link.is_symlink():  # a plain folder from an older layout
        link.rename(versions / f"{link.name}-previous-{secrets.token_hex(4)}")
    temporary = link.parent / f".{link.name}.{secrets.token_hex(4)}.link"
    temporary.symlink_to(Path(VERSIONS_FOLDER) / target.name, target_is_directory=True)
    os.replace(temporary, link)
    _prune(versions, link)
    return link


def exported_version(link: Path) -> str | None:
    """The version models/<name> holds now, or None where it holds nothing readable."""
    try:
        return Bundle.load(link).metadata.version
    except BundleError:
        return None


def _prune(versions: Path, link: Path) -> None:
    """Keep the newest exports of this model; older ones are in MLflow if ever needed."""
    live = link.resolve()
    mine = sorted(
        (p for p in versions.glob(f"{link.name}-v*") if p.resolve() != live),
        key=lambda p: p.stat().st_mtime,
    )
    for old in mine[: max(0, len(mine) - (KEEP_VERSIONS - 1))]:
        shutil.rmtree(old, ignore_errors=True)
