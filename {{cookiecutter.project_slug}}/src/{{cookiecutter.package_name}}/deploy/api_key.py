"""The service's one API key, API_KEY, for a deploy: never open by accident on a rented machine.

`make serve`, the image, every deploy and Kubernetes read the same API_KEY. A deploy
without one makes a strong one and appends it to .env (git-ignored, mode 600), so
`make tunnel` + `make predict` send it with no further step. The key is never printed.
"""

import secrets
from pathlib import Path
from typing import TypeVar

from pydantic import SecretStr
from rich.console import Console

from ..config import where_set
from .errors import BadSetting
from .settings import DeploySettings
from .state import replace_atomically

# The target's own settings class (a subclass): the same class comes back, with its key.
AnySettings = TypeVar("AnySettings", bound=DeploySettings)

ENV_FILE = Path(".env")
RENAMED = "DEPLOY_API_KEY"
MIN_LENGTH = 16  # the service's own minimum


def refuse_renamed_setting(env_file: Path = ENV_FILE) -> None:
    """DEPLOY_API_KEY was the deploy's own key, apart from the service's: it is not read now."""
    where = where_set(RENAMED, env_file)
    if where:
        raise BadSetting(
            f"{RENAMED} ({where}) is no longer read: the service has one key, API_KEY, wherever "
            f"it runs. Rename {RENAMED}= to API_KEY= and deploy again."
        )


def check_api_key(settings: DeploySettings) -> bool:
    """Whether API_KEY is set; one the service would refuse is a bad setting, said before
    anything is built or shipped (`make deploy` runs `deploy check` first)."""
    given = settings.api_key.get_secret_value().strip() if settings.api_key else ""
    if given and len(given) < MIN_LENGTH:  # the service's own rule (serve/settings.py)
        raise BadSetting(
            f"API_KEY is shorter than {MIN_LENGTH} characters: remove it from .env (a deploy then "
            "makes a strong one), or set a longer one."
        )
    return bool(given)


def ensure_api_key(
    settings: AnySettings, console: Console, env_file: Path = ENV_FILE
) -> AnySettings:
    """The settings with a key: API_KEY as set, else a new one kept in .env."""
    if check_api_key(settings):
        return settings
    key = secrets.token_urlsafe(32)
    # resolve(): a .env that is a link keeps being one; its target gets the line.
    path = env_file.resolve() if env_file.is_symlink() else env_file
    text = path.read_text() if path.is_file() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    note = (
        "# Made by `make deploy`: the service's key wherever it runs (make serve, predict, k8s).\n"
    )
    replace_atomically(path, f"{text}{note}API_KEY={key}\n")  # mode 600, written whole
    console.print(
        f"No API_KEY was set: made one and kept it in {env_file} (mode 600, git-ignored); "
        "`make predict` and `make drift-demo` send it."
    )
    return settings.model_copy(update={"api_key": SecretStr(key)})
