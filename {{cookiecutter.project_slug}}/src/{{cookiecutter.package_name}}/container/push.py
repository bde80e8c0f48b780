"""`make push`: push the image from `make docker-build` to a registry, through the Docker SDK.

Tags: the model version (`v3`) and the model version with the git commit the image was
built from (`v3-1a2b3c4`), read from the image's own labels, never just `latest`. Where
to: DEPLOY_REGISTRY=host[:port]/namespace (any registry you are logged in to with
`docker login`), or, in a project with AWS deploys, `ecr` for your account's ECR (created
if missing, logged in with boto3). Either way the repository is the image's own name
(container/images.py), so another model's `v1` never overwrites this project's. The pushed digest goes to build/push.json for `make k8s`.
"""

import json

import docker
import typer
from docker.errors import APIError, ImageNotFound
from pydantic_settings import BaseSettings, SettingsConfigDict

from .. import cli
from .errors import PushError
from .images import BUNDLE, PUSH_RECORD, image_name


class PushSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="DEPLOY_", extra="ignore", frozen=True
    )

    registry: str = "{{ 'ecr' if cookiecutter.deploy_target in ['aws', 'both'] else '' }}"


def local_image(
    client: docker.DockerClient,
) -> tuple[docker.models.images.Image, str, list[str]]:
    """The image of the current model bundle, its name, and the tags it gets: version, version-commit."""
    metadata_path = BUNDLE / "metadata.json"
    if not metadata_path.is_file():
        raise PushError(f"No model bundle at {BUNDLE}: run `make train` first.")
    metadata = json.loads(metadata_path.read_text())
    version, name = metadata["version"], image_name(metadata["name"])
    try:
        image = client.images.get(f"{name}:v{version}")
    except ImageNotFound as error:
        raise PushError(f"No image {name}:v{version}: run `make docker-build` first.") from error
    commit = image.labels.get("org.opencontainers.image.revision", "unknown")
    if commit == "unknown":
        raise PushError(
            "The image carries no git commit: commit your work (git init; git commit) and run "
            "`make docker-build` again, so the pushed tag says which code it holds."
        )
    return image, name, [f"v{version}", f"v{version}-{commit}"]


def check_registry(registry: str) -> str:
    registry = registry.strip().rstrip("/")
    host, _, namespace = registry.partition("/")
    if not host or not namespace or "://" in registry or registry != registry.lower():
        raise PushError(
            f"DEPLOY_REGISTRY={registry!r} is not host[:port]/namespace: set it in .env, "
            "e.g. DEPLOY_REGISTRY=ghcr.io/your-name or DEPLOY_REGISTRY=127.0.0.1:5000/team "
            "(lowercase, no http://)."
        )
    return registry


def ecr_repository(name: str) -> tuple[str, dict]:
    """The URI of ECR's repository `name` (the image's) and a login for it (created if missing)."""
    try:
        from ..deploy.ecr import EcrRepository, EcrSettings  # boto3: AWS deploys
        from ..deploy.errors import DeployError
    except ImportError as error:
        raise PushError(
            "DEPLOY_REGISTRY=ecr needs the AWS deploy code (bake with deploy_target=aws or "
            "both); set DEPLOY_REGISTRY=host[:port]/namespace instead."
        ) from error
    try:
        settings = EcrSettings()
        ecr = EcrRepository(settings, name)
        return ecr.ensure(settings.ecr_keep_images), ecr.login()
    except DeployError as error:
        raise PushError(str(error)) from error


def push_tags(client, image, repository: str, tags: list[str], auth: dict | None) -> str:
    """Tag and push; return the digest the registry reports (the same for every tag)."""
    digest = ""
    for tag in tags:
        image.tag(repository, tag)
        try:
            for chunk in client.api.push(
                repository, tag, stream=True, decode=True, auth_config=auth
            ):
                if "error" in chunk:
                    raise PushError(f"Pushing {repository}:{tag} failed: {chunk['error']}")
                digest = chunk.get("aux", {}).get("Digest", digest)
        except APIError as error:
            raise PushError(f"Pushing {repository}:{tag} failed: {error}") from error
        print(f"pushed {repository}:{tag}")
    if not digest:
        raise PushError(f"The registry reported no digest for {repository}.")
    return digest


def push(client: docker.DockerClient, settings: PushSettings) -> dict:
    image, name, tags = local_image(client)
    if settings.registry == "ecr":
        repository, auth = ecr_repository(name)  # the model's own, as elsewhere
    else:
        repository, auth = f"{check_registry(settings.registry)}/{name}", None
    digest = push_tags(client, image, repository, tags, auth)
    record = {"repository": repository, "tags": tags, "digest": digest}
    record["image"] = f"{repository}@{digest}"
    PUSH_RECORD.parent.mkdir(parents=True, exist_ok=True)
    PUSH_RECORD.write_text(json.dumps(record, indent=2) + "\n")
    return record


app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])


@app.command()
def main() -> None:
    settings = PushSettings()
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        raise PushError(
            f"no Docker engine answers ({error}); start Docker or set DOCKER_HOST."
        ) from None
    record = push(client, settings)
    print(f"Pushed {record['image']} (tags {', '.join(record['tags'])}); next: make k8s")


if __name__ == "__main__":
    cli.run(app)
