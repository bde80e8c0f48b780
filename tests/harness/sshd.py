"""A real OpenSSH server standing in for the VM's, with throwaway keys and config.

Its sessions talk to the Docker engine named by SetEnv DOCKER_HOST. On 127.0.0.1
by default; vm.py starts it inside the test VM's network namespace instead.
Stopped by PID.
"""

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .processes import stop_process


class SshdUnavailable(RuntimeError):
    pass


@dataclass
class SshServer:
    host: str
    port: int
    user: str
    key: Path
    known_hosts: Path
    process: subprocess.Popen

    def stop(self) -> None:
        stop_process(self.process)

    def env(self) -> dict[str, str]:
        """The deploy settings that point a baked project at this server."""
        return {
            "DEPLOY_SSH_HOST": self.host,
            "DEPLOY_SSH_PORT": str(self.port),
            "DEPLOY_SSH_USER": self.user,
            "DEPLOY_SSH_KEY": str(self.key),
            "DEPLOY_KNOWN_HOSTS": str(self.known_hosts),
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sshd(
    folder: Path, docker_host: str, address: str = "127.0.0.1", netns: str | None = None
) -> SshServer:
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists() or shutil.which("ssh-keygen") is None:
        raise SshdUnavailable("sshd is not installed (Debian: openssh-server)")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "user_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True
        )
    shutil.copy(folder / "user_key.pub", folder / "authorized_keys")
    port = free_port() if netns is None else 22  # a namespace of its own: the usual port
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress {address}\nHostKey {folder / 'host_key'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nUsePAM no\n"
        # The key files live in a temp folder whose owner and modes sshd would otherwise refuse.
        "StrictModes no\n"
        f"SetEnv DOCKER_HOST={docker_host}\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    log = open(folder / "sshd.log", "wb")  # noqa: SIM115 - lives as long as sshd
    enter = ["nsenter", f"--net=/var/run/netns/{netns}"] if netns else []  # execs sshd: same PID
    process = subprocess.Popen(
        [*enter, sshd, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=log
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SshdUnavailable(f"sshd exited: {(folder / 'sshd.log').read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex((address, port)) == 0:
                break
        time.sleep(0.2)
    host_key = (folder / "host_key.pub").read_text().split()
    known_hosts = folder / "known_hosts"
    name = address if port == 22 else f"[{address}]:{port}"
    known_hosts.write_text(f"{name} {host_key[0]} {host_key[1]}\n")
    return SshServer(address, port, getpass.getuser(), folder / "user_key", known_hosts, process)
