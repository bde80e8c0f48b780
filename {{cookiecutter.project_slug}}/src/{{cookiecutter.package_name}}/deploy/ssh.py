"""Run commands on the VM over SSH, with strict host-key checking.

We call the `ssh` program (OpenSSH) rather than a Python SSH library: it reads
your ~/.ssh/config and agent, and `StrictHostKeyChecking=yes` with an explicit
known-hosts file means an unknown or changed host key stops the deploy instead
of being trusted silently.
"""

import posixpath
import shlex
import shutil
import subprocess
from collections.abc import Iterable

from .errors import BadSetting, DeployError
from .settings import DeploySettings


class Remote:
    def __init__(self, settings: DeploySettings, host: str | None = None, user: str | None = None):
        self.host = host or settings.ssh_host
        self.user = user or settings.ssh_user
        if not self.host or not self.user:
            raise BadSetting(
                "Set DEPLOY_SSH_HOST and DEPLOY_SSH_USER in .env (the VM's address and login)."
            )
        if shutil.which("ssh") is None:
            raise DeployError("The `ssh` program is not installed (Debian/Ubuntu: openssh-client).")
        self.settings = settings

    def ssh_command(self, *extra: str) -> list[str]:
        s = self.settings
        command = ["ssh", "-p", str(s.ssh_port)]
        for option in (
            "BatchMode=yes",  # never prompt: fail clearly instead
            "StrictHostKeyChecking=yes",
            f"UserKnownHostsFile={s.known_hosts}",
            "ConnectTimeout=15",
        ):
            command += ["-o", option]
        if s.ssh_key:
            command += ["-i", str(s.ssh_key), "-o", "IdentitiesOnly=yes"]
        return [*command, *extra, f"{self.user}@{self.host}"]

    def run(self, *args: str, check: bool = True, stdin: Iterable[bytes] | None = None) -> str:
        command = [*self.ssh_command(), shlex.join(args)]
        if stdin is None:
            result = subprocess.run(command, capture_output=True, text=True)
            returncode, stdout, stderr = result.returncode, result.stdout, result.stderr
        else:
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            assert process.stdin and process.stdout and process.stderr  # all three are PIPEs
            for chunk in stdin:
                process.stdin.write(chunk)
            process.stdin.close()
            returncode = process.wait()
            stdout, stderr = process.stdout.read().decode(), process.stderr.read().decode()
        if returncode == 255:
            raise DeployError(self._explain(stderr))
        if check and returncode != 0:
            raise DeployError(
                f"`{' '.join(args[:3])}` failed on {self.host}: {stderr.strip() or stdout.strip()}"
            )
        return stdout

    def write_private_file(self, path: str, content: str, mode: str = "600") -> None:
        """Write a file only the login user (640: and its group) can read; the content travels
        on stdin, never argv."""
        folder, file = shlex.quote(posixpath.dirname(path) or "."), shlex.quote(path)
        script = f"umask 077 && mkdir -p {folder} && cat > {file} && chmod {mode} {file}"
        self.run("sh", "-c", script, stdin=[content.encode()])

    def exit_code(self, *args: str) -> tuple[int, str]:
        """Run a command; return its exit status and output (a broken connection still raises)."""
        command = [*self.ssh_command(), shlex.join(args)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 255:
            raise DeployError(self._explain(result.stderr))
        return result.returncode, result.stdout

    def raw(self, *args: str) -> subprocess.CompletedProcess:
        """Run a command; its exit status and output as bytes (a broken connection still raises)."""
        result = subprocess.run([*self.ssh_command(), shlex.join(args)], capture_output=True)
        if result.returncode == 255:
            raise DeployError(self._explain(result.stderr.decode(errors="replace")))
        return result

    def succeeds(self, *args: str) -> bool:
        return self.exit_code(*args)[0] == 0

    def _explain(self, stderr: str) -> str:
        s = self.settings
        if "Host key verification failed" in stderr or "No ED25519 host key" in stderr:
            return (
                f"The host key of {self.host} is not in {s.known_hosts} (or has changed). Check the "
                f"fingerprint with your provider, then: ssh-keyscan -p {s.ssh_port} {self.host} >> {s.known_hosts}"
            )
        if "Permission denied" in stderr:
            return f"{self.host} refused the SSH key for user {self.user}: check DEPLOY_SSH_USER and DEPLOY_SSH_KEY."
        return f"Cannot reach {self.user}@{self.host}:{s.ssh_port} over SSH: {stderr.strip()}"
