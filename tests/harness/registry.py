"""A real image registry on 127.0.0.1 (Debian's docker-registry), for `make push`.

Its own config: a free port, storage in a temporary folder, no auth (a registry on
the loopback address is one Docker pushes to over plain HTTP). Started per test
session, stopped by PID.
"""

import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .processes import stop_process
from .sshd import free_port

CONFIG = """version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


class RegistryUnavailable(RuntimeError):
    pass


@dataclass
class Registry:
    host: str  # host:port, as an image reference names it
    process: subprocess.Popen

    def stop(self) -> None:
        stop_process(self.process)


def start_registry(folder: Path) -> Registry:
    executable = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(executable).exists():
        raise RegistryUnavailable(
            "docker-registry is not installed (apt-get install docker-registry)"
        )
    port = free_port()
    config = folder / "config.yml"
    config.write_text(CONFIG.format(storage=folder / "storage", port=port))
    log = (folder / "registry.log").open("w")
    process = subprocess.Popen(
        [executable, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=2)
            return Registry(host, process)
        except OSError as error:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RegistryUnavailable(
                    f"docker-registry did not start ({error}): {(folder / 'registry.log').read_text()[-500:]}"
                ) from error
            time.sleep(0.2)
