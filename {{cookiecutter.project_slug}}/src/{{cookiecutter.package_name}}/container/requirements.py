"""Pin the image's dependencies to the versions installed here, the ones that trained the model.

The model was saved by this environment's scikit-learn; loading it with another
version risks wrong answers. So the image gets exactly these versions: the
project's runtime dependencies plus the `serve` extra, and everything they
need in turn, read from the installed packages' metadata.
"""

import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .errors import ContainerError

# Needed only when scikit-learn serves; an ONNX graph of the whole pipeline needs none of them.
SKLEARN_RUNTIME = {"scikit-learn", "pandas", "skops", "threadpoolctl"}


def top_level(
    pyproject: Path, extras: tuple[str, ...] = ("serve",), onnx_only: bool = False
) -> list[Requirement]:
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project["dependencies"])
    if not onnx_only and "model" in project["optional-dependencies"]:
        # The model's own library (XGBoost, model=xgboost): the saved pipeline needs it to load.
        extras = (*extras, "model")
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    requirements = [Requirement(line) for line in lines]
    if onnx_only:
        requirements = [r for r in requirements if canonicalize_name(r.name) not in SKLEARN_RUNTIME]
    return requirements


def pinned_closure(requirements: list[Requirement]) -> dict[str, str]:
    """name -> installed version, for the requirements and all they depend on."""
    pins: dict[str, str] = {}
    pending = [r for r in requirements if r.marker is None or r.marker.evaluate()]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in pins:
            continue
        try:
            dist = distribution(requirement.name)
        except PackageNotFoundError as error:
            raise ContainerError(
                f"{requirement.name} is not installed here, so its version cannot be pinned. "
                "Run `make setup` first."
            ) from error
        pins[name] = dist.version
        for line in dist.requires or []:
            dependency = Requirement(line)
            # Only what is needed without extras, on this kind of platform.
            if dependency.marker is None or dependency.marker.evaluate({"extra": ""}):
                pending.append(dependency)
    return pins


def write_requirements(pyproject: Path, output: Path, onnx_only: bool = False) -> Path:
    pins = pinned_closure(top_level(pyproject, onnx_only=onnx_only))
    output.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}=={version}" for name, version in sorted(pins.items())]
    header = "# Written by `make docker-build` from the installed versions. Do not edit.\n"
    output.write_text(header + "\n".join(lines) + "\n")
    return output
