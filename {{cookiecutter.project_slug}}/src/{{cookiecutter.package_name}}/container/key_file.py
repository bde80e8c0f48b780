"""API_KEY for `make docker-run` and `make docker-smoke`: a file mounted read-only, the way each
deployed release gets it, never an environment variable.

A container's environment shows in `docker inspect`, and `--env API_KEY=...` on a command
line in `ps`. So the key (from .env or the environment, as `make serve` reads it) is written
to build/docker-run/api_key, in a folder only you may enter, readable by the container's
user alone: owned by it, mode 400, when you run as root; else yours, mode 640, with the
container's user given your group (as a release on a VM gets the deploy user's). It is
mounted read-only at /run/secrets/api_key, where the service reads it (serve/settings.py).
.dockerignore keeps build/docker-run out of every image build.
"""

import os
from pathlib import Path

from docker.types import Mount

KEY_FILE = Path("build/docker-run/api_key")
# Where the service reads its API_KEY from a file (serve/settings.py: SECRETS_DIR/api_key).
CONTAINER_KEY_FILE = "/run/secrets/api_key"


def image_user(user: str) -> tuple[int, int] | None:
    """The uid and gid an image runs as ("10001:10001"); None when not given as numbers."""
    uid, _, gid = user.partition(":")
    try:
        return int(uid), int(gid or uid)
    except ValueError:
        return None


def key_options(key: str, user: str) -> dict:
    """Write the key file; the Docker SDK options that mount it for an image running as `user`."""
    folder = KEY_FILE.parent
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    temporary = folder / f".{KEY_FILE.name}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    # Created readable by you alone, then handed over: never readable by anyone else on the way.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    options: dict = {}
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key)
        owner = image_user(user)
        if os.geteuid() == 0 and owner is not None:
            os.chown(temporary, *owner)
            temporary.chmod(0o400)
        else:
            temporary.chmod(0o640)
            options["group_add"] = [str(os.getgid())]
        os.replace(temporary, KEY_FILE)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    # A bind mount (not a volume): Docker refuses a source that is missing on its machine
    # instead of mounting an empty folder there, which would start the service without a key.
    options["mounts"] = [
        Mount(CONTAINER_KEY_FILE, str(KEY_FILE.resolve()), type="bind", read_only=True)
    ]
    return options
