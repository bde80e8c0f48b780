"""`make practice-vm` / `make practice-vm-stop`: a VM on this computer to practise deploys on, free.

python -m {{ cookiecutter.package_name }}.deploy.practice_vm start [--base-image IMAGE]
python -m {{ cookiecutter.package_name }}.deploy.practice_vm stop

The "VM" is a privileged container (Docker in Docker) made from practice-vm/: its own
sshd, its own Docker engine that starts empty (so the image travels over SSH as it
would to a rented machine), a throwaway SSH key and a recorded host key. Its SSH port
is published on this computer's 127.0.0.1 only. It needs nothing but Docker, so it
works on Docker Desktop (macOS, Windows) as on Linux. The deploy settings it needs go
to .practice-vm/deploy.env, which the deploy reads after .env (and so wins over it)
for as long as the file exists; `stop` removes it with everything else.
"""

import io
import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Annotated

import docker
import typer
from docker.errors import APIError, BuildError, DockerException, NotFound
from dotenv import dotenv_values
from rich.console import Console

from .. import cli
from ..config import PROJECT
from . import state
from .errors import DeployError
from .settings import PRACTICE_VM_ENV, DeploySettings
from .ssh import Remote

NAME = f"{PROJECT}-practice-vm"
IMAGE = f"{NAME}:latest"
ENGINE_VOLUME = f"{NAME}-docker"  # the inner engine's /var/lib/docker: its images and releases
LABEL = "io.coldstart.practice-vm"  # on everything `start` makes, so `stop` finds all of it
USER = "deploy"
USER_ID = 1000  # the deploy login's uid in practice-vm/Dockerfile
FOLDER = PRACTICE_VM_ENV.parent
KEY = FOLDER / "id_ed25519"
KNOWN_HOSTS = FOLDER / "known_hosts"
CONTEXT = Path("practice-vm")
BOOT_TIMEOUT_S = 120

app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0], no_args_is_help=True)
console = Console()


class PracticeVmError(DeployError):
    """The practice VM could not be made, started or removed (exit 1)."""


def engine() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except DockerException as error:
        raise PracticeVmError(
            f"No Docker engine answers ({error}). Start Docker (Docker Desktop, or dockerd), "
            "or set DOCKER_HOST, and try again."
        ) from None
    return client


def project_base_image() -> str:
    """The base image the service's Dockerfile starts FROM (its `ARG BASE_IMAGE=` default)."""
    match = re.search(r"^ARG BASE_IMAGE=(\S+)", Path("Dockerfile").read_text(), re.M)
    if match is None:
        raise PracticeVmError("Dockerfile has no `ARG BASE_IMAGE=...` line: pass --base-image.")
    return match.group(1)


def apt_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this computer's apt uses, if it has one (never a hard-coded host)."""
    files = [sources / "sources.list", *sorted(sources.glob("sources.list.d/*"))]
    text = "\n".join(path.read_text(errors="replace") for path in files if path.is_file())
    candidates = re.findall(r"^URIs:\s*(\S+)", text, re.M)
    candidates += re.findall(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.M)
    return next((url for url in candidates if "/debian" in url and "security" not in url), "")


def build_image(client: docker.DockerClient, base_image: str):
    console.print(
        f"Building {IMAGE} from {base_image} (sshd + Docker: minutes the first time, then cached)"
    )
    try:
        image, _ = client.images.build(
            path=str(CONTEXT),
            tag=IMAGE,
            rm=True,
            buildargs={"BASE_IMAGE": base_image, "APT_MIRROR": apt_mirror()},
            labels={LABEL: NAME},
        )
    except BuildError as error:
        steps = "".join(chunk.get("stream", "") for chunk in error.build_log)[-1500:]
        raise PracticeVmError(f"Building {IMAGE} failed: {error}\n{steps}") from None
    return image


def throwaway_key() -> str:
    """An SSH key for this practice VM only, in .practice-vm/ (mode 600); its public half."""
    FOLDER.mkdir(mode=0o700, exist_ok=True)
    FOLDER.chmod(0o700)
    if not KEY.exists():
        if shutil.which("ssh-keygen") is None:
            raise PracticeVmError("`ssh-keygen` is not installed (Debian/Ubuntu: openssh-client).")
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", NAME, "-f", str(KEY)],
            check=True,
            capture_output=True,
        )
    return KEY.with_suffix(".pub").read_text()


def authorized_keys_archive(public_key: str) -> bytes:
    """A tar of ~deploy/.ssh/authorized_keys, owned by deploy, as sshd insists."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo(".ssh")
        folder.type, folder.mode, folder.uid, folder.gid = tarfile.DIRTYPE, 0o700, USER_ID, USER_ID
        tar.addfile(folder)
        data = public_key.encode()
        file = tarfile.TarInfo(".ssh/authorized_keys")
        file.size, file.mode, file.uid, file.gid = len(data), 0o600, USER_ID, USER_ID
        tar.addfile(file, io.BytesIO(data))
    return buffer.getvalue()


# An engine inside a container needs what --privileged grants (cgroups, mounts, iptables):
# the price of Docker in Docker, and why this is for practice on your own computer.
PRIVILEGED = {"privileged": True}
# Some engines refuse --privileged because their own host withholds a capability (a CI
# machine that is itself a container lacks SYS_RESOURCE): every other one, no seccomp or
# AppArmor profile, and the entrypoint makes the cgroup mounts writable itself.
NEARLY_PRIVILEGED = {
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
}


def create_vm(client: docker.DockerClient, powers: dict):
    """The container, its network and the volume for its engine; all labelled for `stop`."""
    labels = {LABEL: NAME}
    if not client.networks.list(names=[NAME]):
        client.networks.create(NAME, driver="bridge", labels=labels)
    if not client.volumes.list(filters={"name": ENGINE_VOLUME}):
        client.volumes.create(ENGINE_VOLUME, labels=labels)
    return client.containers.create(
        IMAGE,
        name=NAME,
        hostname=NAME,
        labels=labels,
        init=True,
        network=NAME,
        ports={"22/tcp": ("127.0.0.1", None)},  # this computer only; Docker picks a free port
        volumes={ENGINE_VOLUME: {"bind": "/var/lib/docker", "mode": "rw"}},
        **powers,
    )


def boot(client: docker.DockerClient, public_key: str):
    """The practice VM running (an existing one is reused), with this login key installed."""
    container = vm_container(client) or create_vm(client, PRIVILEGED)
    container.put_archive(f"/home/{USER}", authorized_keys_archive(public_key))
    if container.status == "running":
        return container
    try:
        container.start()
    except APIError as error:
        if "apply caps" not in str(error):
            raise
        console.print(
            "This Docker engine cannot grant --privileged (its host withholds a capability): "
            "starting with every capability but SYS_RESOURCE instead."
        )
        container.remove(force=True)
        container = create_vm(client, NEARLY_PRIVILEGED)
        container.put_archive(f"/home/{USER}", authorized_keys_archive(public_key))
        container.start()
    return container


def vm_container(client: docker.DockerClient):
    try:
        return client.containers.get(NAME)
    except NotFound:
        return None


def read_host_key(container) -> str:
    """The VM's host key, read through Docker (a trusted channel), never guessed over SSH."""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        container.reload()
        if container.status != "running":
            raise PracticeVmError(f"The practice VM stopped while booting: {boot_log(container)}")
        key = container.exec_run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])
        engine_up = container.exec_run(["docker", "version"], user=USER)
        if key.exit_code == 0 and engine_up.exit_code == 0:
            return " ".join(key.output.decode().split()[:2])
        time.sleep(0.5)
    raise PracticeVmError(
        f"The practice VM did not boot in {BOOT_TIMEOUT_S}s: {boot_log(container)}"
    )


def boot_log(container) -> str:
    engine_log = container.exec_run(["tail", "-n", "15", "/var/log/dockerd.log"])
    return (container.logs(tail=15).decode(errors="replace") + engine_log.output.decode())[-1500:]


def published_port(container) -> int:
    container.reload()
    return int(container.ports["22/tcp"][0]["HostPort"])


def deploy_settings(port: int) -> dict[str, str]:
    return {
        "DEPLOY_TARGET": "ssh",
        "DEPLOY_SSH_HOST": "127.0.0.1",
        "DEPLOY_SSH_PORT": str(port),
        "DEPLOY_SSH_USER": USER,
        "DEPLOY_SSH_KEY": str(KEY.resolve()),
        "DEPLOY_KNOWN_HOSTS": str(KNOWN_HOSTS.resolve()),
    }


def write_settings(host_key: str, port: int) -> dict[str, str]:
    KNOWN_HOSTS.write_text(f"[127.0.0.1]:{port} {host_key}\n")
    settings = deploy_settings(port)
    lines = [
        "# Written by `make practice-vm`; read by `make deploy` and friends after .env (these win).",
        "# `make practice-vm-stop` removes it, and .env's own DEPLOY_ settings apply again.",
        *(f"{key}={value}" for key, value in settings.items()),
    ]
    PRACTICE_VM_ENV.write_text("\n".join(lines) + "\n")
    return settings


def shadowed_env_settings(settings: dict[str, str], env_file: Path = Path(".env")) -> list[str]:
    """The .env settings the practice VM's file overrides while it exists (said, never silent)."""
    if not env_file.is_file():
        return []
    values = dotenv_values(env_file)
    return [f"{k}={values[k]}" for k in settings if values.get(k) and values[k] != settings[k]]


def shell_overrides(settings: dict[str, str]) -> list[str]:
    """DEPLOY_ variables set in the shell win over the practice VM's file: name them."""
    return [
        f"{k}={os.environ[k]}" for k in settings if os.environ.get(k, settings[k]) != settings[k]
    ]


def check_over_ssh(settings: dict[str, str]) -> None:
    """Log in as a deploy will, host key checked, and ask the VM's own Docker engine."""
    deploy = DeploySettings(
        ssh_host=settings["DEPLOY_SSH_HOST"],
        ssh_port=int(settings["DEPLOY_SSH_PORT"]),
        ssh_user=USER,
        ssh_key=KEY,
        known_hosts=KNOWN_HOSTS,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            Remote(deploy).run("docker", "version")
            return
        except DeployError as error:  # sshd may still be binding its port
            if time.monotonic() > deadline:
                raise PracticeVmError(
                    f"The practice VM does not answer over SSH: {error}"
                ) from None
            time.sleep(0.5)


def start_vm(base_image: str | None) -> None:
    started = time.monotonic()
    client = engine()
    # Always built: Docker's cache makes an unchanged practice-vm/ a matter of seconds.
    image = build_image(client, base_image or project_base_image())
    container = boot(client, throwaway_key())
    settings = write_settings(read_host_key(container), published_port(container))
    check_over_ssh(settings)
    move_the_record(settings["DEPLOY_SSH_PORT"])
    report_started(settings, image, time.monotonic() - started)


def report_started(settings: dict[str, str], image, seconds: float) -> None:
    port = settings["DEPLOY_SSH_PORT"]
    console.print(
        f"[green]Practice VM ready[/] in {seconds:.0f} s: {USER}@127.0.0.1:{port} over SSH, "
        f"its own Docker engine (image {IMAGE}, {image.attrs['Size'] / 1e6:.0f} MB)."
    )
    console.print(f"Deploy settings: {PRACTICE_VM_ENV} (key and host key beside it).")
    for setting in shadowed_env_settings(settings):
        console.print(f"  [yellow]overrides .env's {setting}[/] until `make practice-vm-stop`")
    for setting in shell_overrides(settings):
        console.print(
            f"  [red]your shell sets {setting}[/]: it wins over the practice VM's settings, "
            f"so deploys would not go to it. Unset it: unset {setting.split('=')[0]}"
        )
    console.print("Next: make deploy, make status, make tunnel (and make predict), make destroy.")
    console.print("Done practising: make practice-vm-stop removes all of it.")


def remove_all(client: docker.DockerClient) -> list[str]:
    """Everything labelled as this project's practice VM, container first (it holds the rest)."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": f"{LABEL}={NAME}"}):
        container.remove(force=True)
        removed.append(f"container {container.name} (and every release deployed to it)")
    for network in client.networks.list(filters={"label": f"{LABEL}={NAME}"}):
        network.remove()
        removed.append(f"network {network.name}")
    for volume in client.volumes.list(filters={"label": f"{LABEL}={NAME}"}):
        volume.remove(force=True)
        removed.append(f"volume {volume.name} (its Docker engine's images)")
    for image in client.images.list(filters={"label": f"{LABEL}={NAME}"}):
        client.images.remove(image.id, force=True)
        removed.append(f"image {image.tags[0] if image.tags else image.short_id}")
    return removed


def move_the_record(port: str | None) -> str | None:
    """A deploy recorded to this practice VM follows it: to its new port when it starts again,
    and away when it is removed (its releases went with it, and nothing was billed), so the
    record never sends `make deploy` or `make destroy` to a VM that is not there."""
    state_dir = DeploySettings().state_dir
    record = state.load(state_dir)
    recorded = record.get("connection") or {}
    if record.get("target") != "ssh" or recorded.get("ssh_key") != str(KEY.resolve()):
        return None  # a deploy elsewhere: not ours to touch
    if port is None:
        state.forget(state_dir)
        return f"{state_dir}/state.json (its deploy was on the practice VM)"
    if recorded.get("ssh_port") != port:
        state.record(state_dir, connection=recorded | {"ssh_port": port})
        console.print(f"The deploy record ({state_dir}/state.json) follows the VM to port {port}.")
    return None


def stop_vm() -> None:
    removed = remove_all(engine())
    if record := move_the_record(None):
        removed.append(record)
    if FOLDER.exists():
        shutil.rmtree(FOLDER)
        removed.append(f"{FOLDER}/ (its SSH key, host key and deploy settings)")
    for item in removed:
        console.print(f"  removed {item}")
    console.print(
        "[green]Practice VM removed[/]: .env's own settings apply again."
        if removed
        else "Nothing to remove: no practice VM here."
    )


def guarded(action) -> None:
    """Docker's refusals are ours to explain; cli.run prints them (one line, exit 1)."""
    try:
        action()
    except APIError as error:
        raise PracticeVmError(f"Docker refused: {error.explanation or error}") from None


@app.command()
def start(
    base_image: Annotated[
        str | None, typer.Option(help="Base image (default: the Dockerfile's BASE_IMAGE)")
    ] = None,
) -> None:
    """Start the practice VM (or refresh its settings) and point the deploy settings at it."""
    guarded(lambda: start_vm(base_image))


@app.command()
def stop() -> None:
    """Remove the practice VM: container, network, volume, image, keys and settings."""
    guarded(stop_vm)


if __name__ == "__main__":
    cli.run(app)
