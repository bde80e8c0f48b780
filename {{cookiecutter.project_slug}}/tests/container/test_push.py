"""`make push` settings: a registry must be host[:port]/namespace, and the error says so;
each model's image goes to a repository of its own name.

The push itself runs against a real registry in the template's tests.
"""

import json
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.container import push
from {{ cookiecutter.package_name }}.container.images import PROJECT_IMAGE, image_name
from {{ cookiecutter.package_name }}.container.push import PushError, check_registry

COMMIT = "1a2b3c4"
DIGEST = "sha256:" + "0" * 64


class Image:
    """What `make push` asks of the image `make docker-build` made: its labels, a new tag."""

    labels = {"org.opencontainers.image.revision": COMMIT}

    def __init__(self) -> None:
        self.tags: list[str] = []

    def tag(self, repository: str, tag: str) -> None:
        self.tags.append(f"{repository}:{tag}")


class Engine:
    """The Docker SDK calls `make push` makes, recorded (the push itself is the template's
    tests', against a real registry): images.get, then api.push for each tag."""

    def __init__(self) -> None:
        self.image = Image()
        self.asked: list[str] = []
        self.pushed: list[str] = []
        self.images = self.api = self

    def get(self, name: str) -> Image:
        self.asked.append(name)
        return self.image

    def push(self, repository: str, tag: str, **_) -> list[dict]:
        self.pushed.append(f"{repository}:{tag}")
        return [{"status": "pushed"}, {"aux": {"Digest": DIGEST}}]


def pushed_model(folder: Path, model: str, registry: str) -> tuple[Engine, dict]:
    """`make push` after `make docker-build MODEL_URI=<model's bundle>` (build/bundle)."""
    bundle = folder / "build" / "bundle"
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "metadata.json").write_text(json.dumps({"name": model, "version": 1}))
    engine = Engine()
    record = push.push(engine, push.PushSettings(_env_file=None, registry=registry))  # type: ignore[arg-type]
    return engine, record


def test_each_models_image_goes_to_a_repository_of_its_own_name(tmp_path, monkeypatch):
    """Another model's v1 never overwrites this project's v1 in the registry."""
    monkeypatch.chdir(tmp_path)
    for model in (PROJECT_IMAGE, "second-model"):
        engine, record = pushed_model(tmp_path, model, "127.0.0.1:5000/team")
        repository = f"127.0.0.1:5000/team/{image_name(model)}"
        assert engine.asked == [f"{image_name(model)}:v1"]  # the image of that model
        assert engine.pushed == [f"{repository}:v1", f"{repository}:v1-{COMMIT}"]
        assert record["image"] == f"{repository}@{DIGEST}"
    assert image_name("second-model") != PROJECT_IMAGE


@pytest.mark.parametrize(
    "registry",
    ["127.0.0.1:5000/team", "ghcr.io/ada", "docker.io/ada/", " registry.example:443/a/b "],
)
def test_registry_with_a_namespace_is_accepted(registry):
    assert check_registry(registry) == registry.strip().rstrip("/")


@pytest.mark.parametrize("registry", ["", "ghcr.io", "https://ghcr.io/ada", "ghcr.io/Ada", "/ada"])
def test_bad_registry_names_the_expected_form(registry):
    with pytest.raises(PushError, match=r"host\[:port\]/namespace"):
        check_registry(registry)
