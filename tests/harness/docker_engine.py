"""A real Docker engine for the tests, and the base image the generated Dockerfile starts FROM.

No container registry is reachable from CI, so the base image cannot be pulled.
Instead it is fabricated once: `debootstrap --variant=minbase` a Debian release
from the mirror in this machine's own apt sources, `docker import` it, then a
small Dockerfile adds Python and the host's CA bundle, and the result is tagged
with the exact name the generated Dockerfile's FROM uses. The engine's data
root lives under ~/.cache/coldstart, so the image survives between runs.

    python -m tests.harness.docker_engine     # start an engine, make the base image, print DOCKER_HOST
"""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import DockerException, ImageNotFound

from .processes import stop_process

CACHE = Path(os.environ.get("COLDSTART_CACHE", Path.home() / ".cache" / "coldstart"))
SOCKET = Path("/tmp/coldstart-docker.sock")
EXEC_ROOT = Path("/tmp/coldstart-docker-exec")  # short: unix socket paths are limited to 108 bytes
# Debian's python3 matches the generated project's python_version on these releases.
DEBIAN_RELEASE = {"3.11": "bookworm", "3.13": "trixie"}
FABRICATED_LABEL = "io.coldstart.fabricated"
# Bump when the recipe below changes: cached images of an older recipe are remade.
RECIPE = "2"


class EngineUnavailable(RuntimeError):
    pass


@dataclass
class Engine:
    url: str
    process: subprocess.Popen | None  # None: someone else's engine, not ours to stop

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=600)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Our own engine's cache outlives the run: drop the layers no tag uses any more.
        with contextlib.suppress(DockerException):
            self.client().images.prune(filters={"dangling": True})
        stop_process(self.process, timeout=60)  # dockerd stops its containerd and containers


def _answers(url: str) -> bool:
    try:
        docker.DockerClient(base_url=url, timeout=5).ping()
    except DockerException:
        return False
    return True


def start_engine() -> Engine:
    """Use a running engine if there is one; else start dockerd (needs root)."""
    for url in (os.environ.get("DOCKER_HOST"), f"unix://{SOCKET}", "unix:///var/run/docker.sock"):
        if url and _answers(url):
            return Engine(url, None)
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineUnavailable(
            "no Docker engine answers and dockerd is not installed (Debian: docker.io)"
        )
    if os.geteuid() != 0:
        raise EngineUnavailable("no Docker engine answers, and starting dockerd needs root")
    data_root = CACHE / "docker"
    data_root.mkdir(parents=True, exist_ok=True)
    log = open(CACHE / "dockerd.log", "ab")  # noqa: SIM115 - lives as long as dockerd
    process = subprocess.Popen(
        [dockerd, "--data-root", str(data_root), "--exec-root", str(EXEC_ROOT),
         "--host", f"unix://{SOCKET}", "--pidfile", str(CACHE / "dockerd.pid")],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"unix://{SOCKET}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineUnavailable(
                f"dockerd exited with {process.returncode}; see {CACHE / 'dockerd.log'}"
            )
        if _answers(url):
            return Engine(url, process)
        time.sleep(0.5)
    Engine(url, process).stop()
    raise EngineUnavailable(f"dockerd did not answer within 60s; see {CACHE / 'dockerd.log'}")


def apt_mirror() -> str:
    """The Debian mirror this machine's apt already uses (never a hard-coded host)."""
    texts = []
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        if path.is_file():
            texts.append(path.read_text())
    candidates = re.findall(r"^URIs:\s*(\S+)", "\n".join(texts), re.M)
    candidates += re.findall(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", "\n".join(texts), re.M)
    for url in candidates:
        if "/debian" in url and "security" not in url:
            return url
    raise EngineUnavailable("no Debian mirror found in /etc/apt/sources.list*")


def base_image_tags(python_version: str) -> list[str]:
    """The names a Dockerfile may use for this Python: the template's and MLflow's (exact patch)."""
    tags = [f"python:{python_version}-slim"]
    if sys.version_info[:2] == tuple(int(p) for p in python_version.split(".")):
        tags.append(f"python:{'.'.join(map(str, sys.version_info[:3]))}-slim")
    return tags


def ensure_base_image(client: docker.DockerClient, python_version: str = "3.11") -> str:
    tags = base_image_tags(python_version)
    try:
        image = client.images.get(tags[0])
        labels = image.attrs["Config"].get("Labels") or {}
        if FABRICATED_LABEL in labels and labels.get(f"{FABRICATED_LABEL}.recipe") != RECIPE:
            image = fabricate(client, python_version, tags[0])
    except ImageNotFound:
        image = fabricate(client, python_version, tags[0])
    for tag in tags[1:]:
        repository, _, version = tag.partition(":")
        image.tag(repository, version)
    return tags[0]


def import_minbase(client: docker.DockerClient, release: str, root: Path) -> None:
    """debootstrap a minimal Debian from this machine's mirror and import it as an image."""
    subprocess.run(
        ["debootstrap", "--variant=minbase", release, str(root), apt_mirror()],
        check=True, capture_output=True,
    )  # fmt: skip
    for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (root / leftovers).glob("*"):
            if path.is_file():
                path.unlink()
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    client.api.import_image_from_stream(
        tar.stdout, repository="coldstart/debian-minbase", tag=release
    )
    tar.wait()


def fabricate(client: docker.DockerClient, python_version: str, tag: str):
    release = DEBIAN_RELEASE.get(python_version)
    if release is None:
        raise EngineUnavailable(
            f"no Debian release ships Python {python_version}; bake with 3.11 or 3.13"
        )
    if shutil.which("debootstrap") is None:
        raise EngineUnavailable("debootstrap is not installed (Debian: debootstrap)")
    CACHE.mkdir(parents=True, exist_ok=True)
    minbase = f"coldstart/debian-minbase:{release}"
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="fabricate-") as folder:
        try:
            client.images.get(minbase)
        except ImageNotFound:
            import_minbase(client, release, Path(folder) / "root")
        context = Path(folder) / "context"
        context.mkdir()
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", context / "host-ca.crt")
        (context / "Dockerfile").write_text(
            f"FROM {minbase}\n"
            "COPY host-ca.crt /usr/local/share/ca-certificates/host-ca.crt\n"
            "RUN apt-get update \\\n"
            " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends"
            " python3 python3-venv ca-certificates \\\n"
            # HTTPS may pass a proxy with its own CA: trust the host's bundle in builds.
            " && cat /usr/local/share/ca-certificates/host-ca.crt"
            " >> /etc/ssl/certs/ca-certificates.crt \\\n"
            " && rm -rf /var/lib/apt/lists/* \\\n"
            # Like the official image: `python` and `pip` on PATH, installing where pip may write.
            " && python3 -m venv /usr/local/python\n"
            "ENV PATH=/usr/local/python/bin:$PATH \\\n"
            "    PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\n"
        )
        image, _ = client.images.build(
            path=str(context),
            tag=tag,
            rm=True,
            labels={FABRICATED_LABEL: release, f"{FABRICATED_LABEL}.recipe": RECIPE},
        )
    return image


if __name__ == "__main__":
    engine = start_engine()
    print(f"export DOCKER_HOST={engine.url}")
    print(f"base image: {ensure_base_image(engine.client())}", file=sys.stderr)
    if engine.process is not None:
        print(
            f"dockerd runs as PID {engine.process.pid}; stop it with: kill {engine.process.pid}",
            file=sys.stderr,
        )
