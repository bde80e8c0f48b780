"""Releases on a Docker host, the way Kamal does it: check -> ship -> run -> health check -> switch.

    <app>             the live release, published on the service port
    <app>-previous    the one before, stopped, kept for `make rollback`
    <app>-candidate   a new release under test, without a port; removed after

A release is the image *and* its run settings (port, GPU, API key, limits): their hash is
the release id, a container label, so changing a setting (rotating the API key)
deploys a new release even with the same image. The key never goes on a command
line nor into the container's environment (`docker inspect` shows that): it is written
to ~/.coldstart/<app>/<release id>.key on the host (mode 640, the deploy user's group),
mounted read-only at /run/secrets/api_key, and deleted with the last container of the
release. `destroy` removes this app's containers, the images a deploy loaded (listed in
~/.coldstart/<app>/shipped-images; an image the host already had stays) and the key
files, and keeps the request log unless asked.

A new release first runs as a candidate. Only when it answers /readyz (a real
prediction) does it replace the live one; a release that fails is removed and
the live one keeps serving. Without a proxy in front, the switch itself takes
the service away for the second or two a container needs to start.

Every release runs read-only, without capabilities or privilege gain, with the
memory, process and request-log limits of container/limits.py (CONTAINER_MEMORY_MB,
CONTAINER_PIDS, LOG_MAX_MB): the host's log folder stays under LOG_MAX_MB.
"""

import hashlib
import json
import re
import shlex
import time

import docker
from docker.errors import DockerException, ImageNotFound
from rich.console import Console
from rich.table import Table

from ..container.key_file import CONTAINER_KEY_FILE
from ..container.limits import ContainerLimits
from .errors import DeployError
from .settings import DeploySettings
from .ssh import Remote

LABEL = "io.coldstart.app"
RELEASE_LABEL = "io.coldstart.release"
SECRETS_DIR = ".coldstart"  # in the deploy user's home on the host
# The container's request log volume (LOG_DIR in the image), kept on the host between releases.
CONTAINER_LOG_DIR = "/app/logs"
# Run inside the container with its own Python (the host needs no curl). Exit 0: ready;
# 1: not yet; 2: the model failed to load, which waiting will not fix.
READY_CHECK = """
import json, os, sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{os.environ['PORT']}/readyz", timeout=5)
except urllib.error.HTTPError as error:
    detail = json.loads(error.read() or b"{}").get("detail", "")
    print(detail)
    sys.exit(1 if detail == "loading" else 2)
except OSError:
    sys.exit(1)
"""


class Releases:
    def __init__(self, remote: Remote, settings: DeploySettings, console: Console):
        self.remote, self.settings, self.console = remote, settings, console
        # The same hardening and limits as `make docker-run` and Kubernetes.
        self.limits = ContainerLimits()
        self.live = settings.app
        self.previous = f"{settings.app}-previous"
        self.candidate = f"{settings.app}-candidate"

    # --- looking -------------------------------------------------------------
    def docker(self, *args: str, check: bool = True) -> str:
        return self.remote.run("docker", *args, check=check)

    def inspect(self, name: str) -> dict | None:
        output = self.docker("container", "inspect", name, check=False)
        return (
            json.loads(output)[0]
            if output.strip().startswith("[") and output.strip() != "[]"
            else None
        )

    def existing(self, name: str) -> dict:
        """inspect() for a container this command just started or listed."""
        container = self.inspect(name)
        if container is None:
            raise DeployError(
                f"Container {name} went from the host while this command ran "
                "(someone else removed it?). Run `make status`, then the command again."
            )
        return container

    def release_id(self, image_id: str) -> str:
        """The image and every run setting: change any of them and it is a new release."""
        s = self.settings
        secret = s.api_key.get_secret_value() if s.api_key else ""
        run = [image_id, s.publish_address, s.remote_port, s.gpu, secret, self.limits.cli_options()]
        return hashlib.sha256(json.dumps(run).encode()).hexdigest()[:12]

    def folder(self) -> str:
        """The app's folder on the host: its releases' secrets, request log and shipped images."""
        return f"{SECRETS_DIR}/{self.settings.app}"

    def key_file(self, release: str) -> str:
        return f"{self.folder()}/{release}.key"

    def log_dir(self) -> str:
        """The host folder holding the request log (`make monitor` fetches it)."""
        return f"{self.folder()}/requests"

    def shipped_images(self) -> str:
        """The ids of the images a deploy loaded onto the host, one a line."""
        return f"{self.folder()}/shipped-images"

    def log_volume(self) -> list[str]:
        """Mount the host's log folder; the service (uid 10001) writes through the deploy
        user's group (setgid folder, mode 2770), so the deploy user can read what it wrote."""
        folder = shlex.quote(self.log_dir())
        self.home, group = self.remote.run(
            "sh", "-c", f"mkdir -p {folder} && chmod 2770 {folder} && echo $HOME && id -g"
        ).split()
        return [
            "--volume", f"{self.home}/{self.log_dir()}:{CONTAINER_LOG_DIR}", "--group-add", group
        ]  # fmt: skip

    def has_image(self, image: str) -> bool:
        return self.remote.exit_code("docker", "image", "inspect", image)[0] == 0

    def check_docker(self) -> str:
        """Docker's version on the host; a clear error when it does not answer."""
        found = re.search(r"Server Version:\s*(\S+)", self.docker("info", check=False))
        if not found:
            raise DeployError(
                f"Docker on {self.remote.host} is unreachable: it is not running, or "
                f"{self.remote.user} may not use it (sudo usermod -aG docker {self.remote.user})."
            )
        return found.group(1)

    def release_of(self, container: dict) -> str:
        labels = container["Config"]["Labels"] or {}
        return (
            f"v{labels.get('org.opencontainers.image.version', '?')} ({container['Image'][7:19]})"
        )

    # --- steps ---------------------------------------------------------------
    def check_host(self) -> None:
        version = self.check_docker()
        free_kb = int(self.remote.run("df", "-Pk", "/").splitlines()[-1].split()[3])
        if free_kb < 2_000_000:
            raise DeployError(
                f"Only {free_kb // 1024} MB free on {self.remote.host}: need 2 GB for the image."
            )
        if self.settings.gpu and not self.remote.run("nvidia-smi", "-L", check=False).startswith(
            "GPU"
        ):
            raise DeployError(
                f"DEPLOY_GPU=true but `nvidia-smi` finds no GPU on {self.remote.host}: "
                "choose a GPU machine (or image with NVIDIA drivers), or set DEPLOY_GPU=false."
            )
        self.console.print(
            f"[green]✓[/] host {self.remote.host}: Docker {version}, {free_kb // 1024:,} MB free"
        )

    def ship(self, image) -> None:
        if self.has_image(image.id):
            # Not ours to remove later: the host had it (it may be the build machine itself).
            self.console.print("[green]✓[/] image already on the host")
            return
        size = image.attrs["Size"] / 1e6
        with self.console.status(
            f"Shipping {image.tags[0]} ({size:.0f} MB) with docker save | docker load..."
        ):
            started = time.monotonic()
            self.remote.run("docker", "load", stdin=image.save(named=True))
        # destroy removes only the images a deploy brought: it notes each one on the host.
        note = f"mkdir -p {shlex.quote(self.folder())} && echo {shlex.quote(image.id)} >> "
        self.remote.run("sh", "-c", note + shlex.quote(self.shipped_images()))
        self.console.print(f"[green]✓[/] shipped in {time.monotonic() - started:.0f}s")

    def start(self, name: str, image_id: str, publish: bool) -> None:
        s = self.settings
        release = self.release_id(image_id)
        args = [
            "run", "--detach", "--name", name, "--label", f"{LABEL}={s.app}",
            "--label", f"{RELEASE_LABEL}={release}",
            "--restart", "unless-stopped", "--read-only", "--tmpfs", "/tmp",
            "--health-interval", "2s", "--health-start-period", "60s",
            *self.limits.cli_options(),
        ]  # fmt: skip
        if publish:
            args += ["--publish", f"{s.publish_address}:{s.remote_port}:8000"]
        args += self.log_volume()
        if s.gpu:
            args += ["--gpus", "all"]
        if s.api_key:
            # A file, not --env-file: an environment variable shows in `docker inspect`. Mode
            # 640: the service reads it through the deploy user's group (--group-add above).
            key_file = self.key_file(release)
            self.remote.write_private_file(key_file, s.api_key.get_secret_value(), mode="640")
            args += ["--volume", f"{self.home}/{key_file}:{CONTAINER_KEY_FILE}:ro"]
        self.docker(*args, image_id)

    def wait_ready(self, name: str) -> None:
        """Healthy (Docker's check of /livez), then a real prediction through /readyz."""
        deadline = time.monotonic() + self.settings.health_timeout
        with self.console.status(f"Waiting for {name} to answer /readyz..."):
            while time.monotonic() < deadline:
                state = (self.inspect(name) or {}).get("State", {})
                if state.get("Status") in ("exited", "dead"):
                    break
                if state.get("Health", {}).get("Status") == "healthy":
                    code, output = self.remote.exit_code(
                        "docker", "exec", name, "python", "-c", READY_CHECK
                    )
                    if code == 0:
                        return
                    if code == 2:  # the model cannot load: waiting longer will not help
                        raise DeployError(
                            f"{name} cannot serve: {output.strip()}\nSee `make logs` for details."
                        )
                time.sleep(1)
        logs = self.docker("logs", "--tail", "30", name, check=False)
        raise DeployError(
            f"{name} did not pass its health check within {self.settings.health_timeout}s. "
            f"Last log lines:\n{logs}\nSee more with `make logs`."
        )

    def remove(self, name: str) -> None:
        """Remove a container, and its release's secrets once no container of it is left."""
        container = self.inspect(name)
        self.docker("rm", "--force", name, check=False)
        release = ((container or {}).get("Config", {}).get("Labels") or {}).get(RELEASE_LABEL)
        if (
            release
            and not self.docker(
                "ps", "--all", "--quiet", "--filter", f"label={RELEASE_LABEL}={release}"
            ).strip()
        ):
            self.remote.run("rm", "-f", self.key_file(release))

    # --- commands ------------------------------------------------------------
    def deploy(self, image_name: str) -> dict:
        """Ship and switch; what is live now: {"image", "image_id", "release", "outcome"}."""
        image = local_image(image_name)
        live_now = {"image": image_name, "image_id": image.id, "release": self.release_id(image.id)}
        self.check_host()
        labels = image.labels or {}
        self.console.print(
            f"Shipping {image_name}: model {labels.get('io.coldstart.model.name', '?')} "
            f"v{labels.get('io.coldstart.model.version', '?')}"
        )
        live = self.inspect(self.live)
        labels = (live or {}).get("Config", {}).get("Labels") or {}
        if (
            live
            and labels.get(RELEASE_LABEL) == self.release_id(image.id)
            and live["State"]["Running"]
        ):
            self.console.print(
                f"Already live: {image_name} {self.release_of(live)} with the same settings. "
                "Nothing to do."
            )
            return live_now | {"outcome": "unchanged"}
        self.ship(image)

        self.remove(self.candidate)
        self.start(self.candidate, image.id, publish=False)
        try:
            self.wait_ready(self.candidate)
        except DeployError as error:
            keeps = f"{self.release_of(live)} keeps serving" if live else "nothing was live"
            raise DeployError(
                f"The new release failed; it was removed and {keeps}.\n{error}"
            ) from error
        finally:
            self.remove(self.candidate)
        self.console.print("[green]✓[/] the new release answers /readyz")

        self.switch(image.id, had_live=live is not None)
        self.console.print(
            f"[green]Live:[/] {image_name} on {self.remote.host}, "
            f"{self.settings.publish_address}:{self.settings.remote_port}"
        )
        return live_now | {"outcome": "deployed"}

    def switch(self, image_id: str, had_live: bool) -> None:
        if had_live:
            self.remove(self.previous)
            self.docker("stop", self.live)
            self.docker("rename", self.live, self.previous)
        self.start(self.live, image_id, publish=True)
        try:
            self.wait_ready(self.live)
        except DeployError:
            self.remove(self.live)
            if had_live:  # put the old release back exactly as it was
                self.docker("rename", self.previous, self.live)
                self.docker("start", self.live)
            raise

    def rollback(self) -> None:
        if self.inspect(self.previous) is None:
            raise DeployError("There is no previous release on the host to roll back to.")
        swap = f"{self.settings.app}-rolled-back"
        self.remove(swap)
        self.docker("stop", self.live)
        self.docker("rename", self.live, swap)
        self.docker("rename", self.previous, self.live)
        self.docker("start", self.live)
        self.wait_ready(self.live)
        # Keep the release we left as "previous": a second rollback rolls forward again.
        self.docker("rename", swap, self.previous)
        self.console.print(
            f"[green]Rolled back:[/] live is {self.release_of(self.existing(self.live))}"
        )

    def status(self) -> list[dict]:
        self.check_docker()
        rows = []
        for name in (self.live, self.previous):
            container = self.inspect(name)
            if container:
                state = container["State"]
                rows.append(
                    {
                        "container": name,
                        "release": self.release_of(container),
                        "state": state["Status"],
                        "health": state.get("Health", {}).get("Status", "-"),
                    }
                )
        return rows

    def logs(self, lines: int = 200) -> str:
        if self.inspect(self.live) is None:
            raise DeployError("Nothing is deployed on the host yet.")
        return self.remote.run("sh", "-c", f"docker logs --tail {int(lines)} {self.live} 2>&1")

    def destroy(self, delete_logs: bool = False) -> tuple[list[str], list[str]]:
        """Remove this app's containers, the images deploys shipped and the secrets:
        (what was removed, what was kept and why). The request log stays unless asked."""
        removed = []
        ids = self.docker(
            "ps", "--all", "--quiet", "--filter", f"label={LABEL}={self.settings.app}"
        ).split()
        secrets = self.remote.run(
            "sh", "-c", f"ls {shlex.quote(self.folder())}/*.key 2>/dev/null || true"
        )
        for container in ids:
            name = self.existing(container)["Name"].lstrip("/")
            self.remove(container)
            removed.append(f"container {name}")
        removed += self.remove_shipped_images()
        if secrets.split():
            removed.append(f"{len(secrets.split())} API key file(s) in ~/{self.folder()}")
        logs, kept = self.request_log(), []
        if logs and delete_logs:
            self.remote.run("rm", "-rf", self.log_dir())
            removed.append(f"the request log ~/{self.log_dir()} ({logs})")
        elif logs:
            kept.append(
                f"the request log ~/{self.log_dir()} ({logs}): `make monitor` reads it; "
                "`make destroy DESTROY_LOGS=1` removes it"
            )
        folder, log_dir = shlex.quote(self.folder()), shlex.quote(self.log_dir())
        self.remote.run(
            "sh", "-c",
            f"rm -f {folder}/*.key {shlex.quote(self.shipped_images())}; "
            f"rmdir {log_dir} {folder} 2>/dev/null || true",
        )  # fmt: skip
        return removed, kept

    def remove_shipped_images(self) -> list[str]:
        """The images a deploy loaded here, unless a container (anyone's) still uses one."""
        removed = []
        listed = self.remote.run(
            "sh", "-c", f"cat {shlex.quote(self.shipped_images())} 2>/dev/null || true"
        )
        for image in dict.fromkeys(listed.split()):
            if not self.has_image(image):
                continue  # already gone
            if self.docker("ps", "--all", "--quiet", "--filter", f"ancestor={image}").strip():
                continue  # another container runs it: not ours to take away
            if self.docker("image", "rm", "--force", image, check=False):
                removed.append(
                    f"image {image.removeprefix('sha256:')[:12]} (shipped by make deploy)"
                )
        return removed

    def request_log(self) -> str:
        """'N file(s), X MB' of the host's request log; '' when there is none."""
        script = (
            f"cd {shlex.quote(self.log_dir())} 2>/dev/null || exit 0; "
            "find . -maxdepth 1 -type f | wc -l; du -sk . | cut -f1"
        )
        counts = self.remote.run("sh", "-c", script).split()
        if not counts or counts[0] == "0":
            return ""
        return f"{counts[0]} file(s), {int(counts[1]) / 1024:.1f} MB"


def show_releases(releases: Releases, console: Console) -> None:
    rows = releases.status()
    table = Table(title=f"Releases on {releases.remote.host}")
    for column in ("container", "release", "state", "health"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row.values())
    console.print(table if rows else "Nothing deployed on the host.")


def local_image(name: str):
    try:
        return docker.from_env().images.get(name)
    except ImageNotFound as error:
        raise DeployError(f"No local image {name}: run `make docker-build` first.") from error
    except DockerException as error:
        raise DeployError(f"No local Docker engine answers ({error}).") from error
