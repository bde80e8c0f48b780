"""`make docker-build`, `make docker-run`, `make docker-smoke`, driven by the Docker SDK.

python -m {{ cookiecutter.package_name }}.container build [--base-image IMAGE]
python -m {{ cookiecutter.package_name }}.container run   [--port 8000]
python -m {{ cookiecutter.package_name }}.container smoke
"""

import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Annotated

import docker
import typer
from docker.errors import APIError, BuildError, DockerException, ImageNotFound, NotFound

from .. import cli
from ..contract.bundle import Bundle, UntrustedBundle
from ..serve.internals.model_source import resolve_bundle
from ..serve.settings import ServeSettings
from .errors import ContainerError
from .images import BUNDLE, PROJECT_IMAGE, image_name, last_built, record_build
from .key_file import CONTAINER_KEY_FILE, KEY_FILE, key_options
from .limits import ContainerLimits
from .requirements import write_requirements

# `make docker-run`'s container (one at a time, whichever model it serves).
CONTAINER_NAME = PROJECT_IMAGE
CONTAINER_PORT = 8000


def engine() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as error:
        raise ContainerError(
            f"No Docker engine answers ({error}). Start Docker (or set DOCKER_HOST) and try again."
        ) from error
    return client


def git_commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return result.stdout.strip() or "unknown"


def stage_bundle() -> Bundle:
    """Copy the bundle MODEL_URI names (a folder, or models:/ from the registry) into build/."""
    settings = ServeSettings()
    try:
        # Bundle.load refuses links, pipes and devices inside the bundle: a copy would follow
        # a link and put whatever it points at (all of /etc) into the image.
        source = Bundle.load(resolve_bundle(settings.model_uri, settings.mlflow_tracking_uri))
    except UntrustedBundle as error:  # exit 2, like any bad input
        raise UntrustedBundle(
            f"{error} Remove them (or run `make train` again), then build again. "
            "Nothing was copied."
        ) from None
    # resolve(): models/<name> is a link to the versioned folder; copy what it points at.
    directory = source.directory.resolve()
    shutil.rmtree(BUNDLE, ignore_errors=True)
    shutil.copytree(directory, BUNDLE, symlinks=True)  # symlinks=True: never follow one
    print(
        f"Model: {source.metadata.name} v{source.metadata.version} (MODEL_URI={settings.model_uri})"
    )
    return Bundle.load(BUNDLE)


def build(client: docker.DockerClient, base_image: str | None = None) -> str:
    """Build the image of the bundle MODEL_URI names; tag it with the model version and `latest`
    under that model's own name (images.py)."""
    metadata = stage_bundle().metadata
    # A bundle whose ONNX graph is the whole pipeline serves without scikit-learn,
    # scipy and pandas: the image leaves them out (about 250 MB).
    onnx_only = metadata.onnx == "pipeline"
    write_requirements(Path("pyproject.toml"), Path("build/requirements-serve.txt"), onnx_only)
    print(f"Serving dependencies: {'ONNX only' if onnx_only else 'ONNX and scikit-learn'}")
    repository = image_name(metadata.name)
    tag = f"{repository}:v{metadata.version}"
    build_args = {
        "MODEL_NAME": metadata.name,
        "MODEL_VERSION": metadata.version,
        "GIT_COMMIT": git_commit(),
    }
    if base_image:
        build_args["BASE_IMAGE"] = base_image
    started = time.monotonic()
    print(f"Building {tag} (model {metadata.name} v{metadata.version})...")
    try:
        # The API's builder streams its log; show each step as it happens.
        for chunk in client.api.build(
            path=".", tag=tag, buildargs=build_args, rm=True, decode=True
        ):
            if "stream" in chunk and chunk["stream"].strip():
                print(chunk["stream"].rstrip())
            if "error" in chunk:
                raise BuildError(chunk["error"], [])
    except (BuildError, APIError) as error:
        raise ContainerError(f"docker build failed: {error}") from error
    image = client.images.get(tag)
    image.tag(repository, "latest")
    record_build(tag, f"{repository}:latest", metadata.name, str(metadata.version))
    size = image.attrs["Size"] / 1e6
    print(
        f"Built {tag} and {repository}:latest ({size:.0f} MB) in {time.monotonic() - started:.0f}s"
    )
    return tag


def run(client: docker.DockerClient, image: str, port: int, name: str | None = None):
    """Start the service, published on 127.0.0.1 only: not reachable from other machines.

    Read-only, no capabilities, capped memory and processes (container/limits.py); API_KEY,
    when set, as a file mounted read-only (container/key_file.py). Created, then started: a
    start Docker refuses (the port is taken) leaves no container behind.
    """
    options = checked_limits().sdk_options()
    key = ServeSettings().api_key
    if key is not None:
        user = client.images.get(image).attrs["Config"].get("User") or ""
        options |= key_options(key.get_secret_value(), user)
    container = create_container(client, image, port, name, options, with_key=key is not None)
    start_container(container, image, port)
    if key is not None:
        check_key_readable(container)
    return container


def create_container(
    client: docker.DockerClient,
    image: str,
    port: int,
    name: str | None,
    options: dict,
    with_key: bool,
):
    try:
        return client.containers.create(
            image,
            name=name,
            ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", port)},
            read_only=True,
            tmpfs={"/tmp": "size=64m"},
            **options,
        )
    except APIError as error:
        problem = str(error.explanation or error)
        hint = (
            f": the engine must see {KEY_FILE.resolve()} (a Docker engine on this computer)"
            if with_key and "bind source path" in problem
            else ""
        )
        raise ContainerError(
            f"Docker could not create a container of {image} ({problem}){hint}"
        ) from None


def start_container(container, image: str, port: int) -> None:
    """Start a created container; one Docker refuses to start is removed, not left behind."""
    try:
        container.start()
    except APIError as error:
        container.remove(force=True)
        problem = str(error.explanation or error)
        busy = "port is already allocated" in problem or "address already in use" in problem
        hint = f": 127.0.0.1:{port} is taken; free it, or pass PORT=" if busy else ""
        raise ContainerError(f"Docker could not start {image} ({problem}){hint}") from None


def check_key_readable(container) -> None:
    """The service must read its key: one that cannot would fail to start, or worse."""
    try:
        readable = (
            container.exec_run(["python", "-c", f"open({CONTAINER_KEY_FILE!r}).read()"]).exit_code
            == 0
        )
    except APIError:  # it exited already
        readable = False
    if not readable:
        logs = container.logs().decode(errors="replace")[-2000:]
        container.remove(force=True)
        raise ContainerError(
            f"The service's user cannot read its API key file {KEY_FILE} (mounted at "
            f"{CONTAINER_KEY_FILE}); the container was removed. Its log:\n{logs}"
        )


def checked_limits() -> ContainerLimits:
    """The run limits from .env; a bad one is one line and exit 2 (cli.run), before Docker is asked."""
    return ContainerLimits()


def wait_healthy(container, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        health = container.attrs["State"].get("Health", {}).get("Status")
        if container.status == "exited":
            raise ContainerError(f"The container exited:\n{container.logs().decode()[-3000:]}")
        if health == "healthy":
            return
        time.sleep(1)
    raise ContainerError(f"Not healthy after {timeout:.0f}s:\n{container.logs().decode()[-3000:]}")


def smoke(client: docker.DockerClient, port: int) -> None:
    """Build, run, wait for healthy, check /readyz and /predict, stop."""
    tag = build(client)
    container = run(client, tag, port)
    try:
        wait_healthy(container)
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
            print("readyz:", response.read().decode())
        example = Bundle.load(BUNDLE).example[0]
        headers = {"Content-Type": "application/json"}
        key = ServeSettings().api_key
        if key is not None:  # the container runs with it, as `make docker-run`'s does
            headers["X-API-Key"] = key.get_secret_value()
        request = urllib.request.Request(f"{base}/predict", json.dumps(example).encode(), headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            print("predict:", response.read().decode())
        user = container.exec_run("id -u").output.decode().strip()
        print(f"runs as uid {user}" + (" (root!)" if user == "0" else " (not root)"))
    finally:
        container.stop(timeout=10)
        container.remove()
    print("Smoke test passed.")


app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0], no_args_is_help=True)
Port = Annotated[int, typer.Option(help="Host port, bound to 127.0.0.1")]


def ready_client() -> docker.DockerClient:
    """Settings first (ServeSettings, ContainerLimits): a bad one is exit 2 before Docker is asked."""
    ServeSettings()
    checked_limits()
    return engine()


@app.command("build")
def build_command(
    base_image: Annotated[
        str | None, typer.Option(help="Override the Dockerfile's BASE_IMAGE")
    ] = None,
) -> None:
    """Build the service image for MODEL_URI."""
    build(ready_client(), base_image)


@app.command("smoke")
def smoke_command(port: Port = 8000) -> None:
    """Build, run, wait until healthy, predict, stop."""
    smoke(ready_client(), port)


@app.command("run")
def run_command(port: Port = 8000) -> None:
    """Run the image on 127.0.0.1 (replaces a running one)."""
    client = ready_client()
    image = last_built()
    try:
        client.images.get(image)
    except ImageNotFound as error:
        raise ContainerError(f"No image {image} yet: run `make docker-build` first.") from error
    with contextlib.suppress(NotFound):  # the previous `make docker-run`
        client.containers.get(CONTAINER_NAME).remove(force=True)
    container = run(client, image, port, name=CONTAINER_NAME)
    print(
        f"Running {image} ({container.short_id}) on http://127.0.0.1:{port} "
        f"(stop: docker stop {CONTAINER_NAME})"
    )


if __name__ == "__main__":
    cli.run(app)
