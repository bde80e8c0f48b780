"""Each model's image has a name of its own, and `make docker-build` says which it built last.

This project's own model (MODEL_NAME's default) is `{{ cookiecutter.project_slug }}:v<version>` and
`:latest`; any other model, `{{ cookiecutter.project_slug }}-<model name>:...`: building another
model never moves this project's tags. build/image.json names the image built last, which
`make docker-run` runs and `make deploy` ships (it builds first) unless DEPLOY_IMAGE says.
"""

import json
import re
from pathlib import Path

from ..config import PROJECT

PROJECT_IMAGE = PROJECT
# What the image commands write under build/, named here once for every command that reads it.
BUILT = Path("build/image.json")  # the image built last
# The bundle the image carries: a copy of the one MODEL_URI names (what `make serve` serves).
BUNDLE = Path("build/bundle")
PUSH_RECORD = Path("build/push.json")  # what `make push` pushed, which `make k8s` deploys


def image_name(model_name: str) -> str:
    """The image repository of a model: lowercase letters, digits, '.', '_' and '-' only."""
    if model_name == PROJECT_IMAGE:
        return PROJECT_IMAGE
    slug = re.sub(r"[^a-z0-9._-]+", "-", model_name.lower()).strip("-._")
    return f"{PROJECT_IMAGE}-{slug or 'model'}"


def record_build(tag: str, latest: str, model: str, version: str) -> None:
    BUILT.parent.mkdir(parents=True, exist_ok=True)
    record = {"image": latest, "tag": tag, "model": model, "version": version}
    BUILT.write_text(json.dumps(record, indent=2) + "\n")


def last_built(default: str = f"{PROJECT_IMAGE}:latest") -> str:
    """The `:latest` of the image `make docker-build` built last (else this project's)."""
    try:
        return json.loads(BUILT.read_text())["image"]
    except (OSError, ValueError, KeyError, TypeError):
        return default
