"""A stand-in VM that is really another host: its own network namespace, sshd and Docker engine.

    test process ──veth 10.213.N.1/30 ── 10.213.N.2/30──┐ netns coldstart-vm-<pid>
                                                       ├─ sshd on 10.213.N.2:22
                                                       └─ dockerd (empty data root), its
                                                          containers publish on the namespace's
                                                          127.0.0.1: reachable only via `make tunnel`

dockerd is started with `nsenter --net=...` (not `ip netns exec`, which also makes a
new mount namespace, where dockerd fails with "Devices cgroup isn't mounted"), so
it shares the filesystem but not the network. Its engine starts empty: the image
must travel over SSH and the base image is not there. Everything is started and
stopped by PID; the namespace and the veth pair are deleted at the end. Needs root.
"""

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import DockerException

from .processes import stop_process
from .sshd import SshdUnavailable, SshServer, start_sshd

SUBNET = "10.213"  # test-owned addresses: 10.213.N.0/30 per VM


class VmUnavailable(RuntimeError):
    pass


@dataclass
class Vm:
    name: str
    address: str
    host_veth: str
    folder: Path
    engine_url: str
    dockerd: subprocess.Popen | None = None
    sshd: SshServer | None = None
    stopped: list[str] = field(default_factory=list)

    def client(self) -> docker.DockerClient:
        """The VM's own engine, for the tests to look at (deploys go through SSH)."""
        return docker.DockerClient(base_url=self.engine_url, timeout=120)

    def env(self) -> dict[str, str]:
        return self.sshd.env()

    def stop(self) -> None:
        if self.sshd is not None:
            self.sshd.stop()
        if self.dockerd is not None:
            stop_process(self.dockerd, timeout=60)  # it stops its containers and containerd
        run("ip", "netns", "delete", self.name, check=False)
        run("ip", "link", "delete", self.host_veth, check=False)  # gone with the netns, normally
        shutil.rmtree(self.folder / "engine", ignore_errors=True)


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise VmUnavailable(f"`{' '.join(command)}` failed: {result.stderr.strip()}")
    return result


def free_subnet() -> int:
    used = run("ip", "-o", "-4", "addr", "show").stdout
    for number in range(os.getpid() % 200 + 10, 255):
        if f" {SUBNET}.{number}." not in used:
            return number
    raise VmUnavailable(f"no free {SUBNET}.N.0/30 subnet for the test VM")


def make_network(name: str, host_veth: str, number: int) -> str:
    """The namespace and a veth pair: host side .1, VM side .2 of 10.213.N.0/30."""
    peer = f"{host_veth}p"
    run("ip", "netns", "add", name)
    run("ip", "link", "add", host_veth, "type", "veth", "peer", "name", peer)
    run("ip", "link", "set", peer, "netns", name)
    run("ip", "addr", "add", f"{SUBNET}.{number}.1/30", "dev", host_veth)
    run("ip", "link", "set", host_veth, "up")
    run("ip", "-n", name, "addr", "add", f"{SUBNET}.{number}.2/30", "dev", peer)
    run("ip", "-n", name, "link", "set", peer, "up")
    run("ip", "-n", name, "link", "set", "lo", "up")
    return f"{SUBNET}.{number}.2"


def start_engine(vm: Vm) -> None:
    """dockerd inside the namespace, with an empty data root of its own."""
    engine = vm.folder / "engine"
    (engine / "data").mkdir(parents=True, exist_ok=True)
    exec_root = Path(f"/tmp/csvm-{os.getpid()}")  # unix socket paths are limited to 108 bytes
    log = open(vm.folder / "dockerd.log", "wb")  # noqa: SIM115 - lives as long as dockerd
    vm.dockerd = subprocess.Popen(
        ["nsenter", f"--net=/var/run/netns/{vm.name}", "dockerd",
         "--data-root", str(engine / "data"), "--exec-root", str(exec_root),
         "--host", vm.engine_url, "--pidfile", str(engine / "dockerd.pid")],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(DockerException):
            vm.client().ping()
            return
        if vm.dockerd.poll() is not None or time.monotonic() > deadline:
            raise VmUnavailable(
                f"dockerd in {vm.name} did not start: {tail(vm.folder / 'dockerd.log')}"
            )
        time.sleep(0.3)


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-1500:] if path.exists() else ""


def start_vm(folder: Path) -> Vm:
    for tool in ("ip", "nsenter", "dockerd"):
        if shutil.which(tool) is None:
            raise VmUnavailable(
                f"`{tool}` is not installed (Debian: iproute2, util-linux, docker.io)"
            )
    if os.geteuid() != 0:
        raise VmUnavailable("the separate test host needs root (network namespaces, dockerd)")
    folder.mkdir(parents=True, exist_ok=True)
    name, host_veth = f"coldstart-vm-{os.getpid()}", f"csvm{os.getpid()}"
    vm = Vm(name, "", host_veth, folder, f"unix:///tmp/csvm-{os.getpid()}.sock")
    try:
        vm.address = make_network(name, host_veth, free_subnet())
        start_engine(vm)
        vm.sshd = start_sshd(folder / "sshd", vm.engine_url, address=vm.address, netns=name)
    except (VmUnavailable, SshdUnavailable, OSError):
        vm.stop()
        raise
    return vm


if __name__ == "__main__":  # python -m tests.harness.vm: start one, print how to reach it, wait
    import tempfile

    machine = start_vm(Path(tempfile.mkdtemp(prefix="coldstart-vm-")))
    print(machine.env(), "engine:", machine.engine_url)
    try:
        input("Enter stops the VM. ")
    finally:
        machine.stop()
