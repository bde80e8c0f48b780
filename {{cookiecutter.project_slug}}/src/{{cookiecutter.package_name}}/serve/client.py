"""`make predict`: ask a running service for its example record, send it, print the answer.

Talks HTTP with the standard library only. The API key (needed by /model and /predict
when the service has one) comes from --api-key,
the API_KEY environment variable, or .env: the same places `make serve` reads.
"""

import json
import os
import urllib.error
import urllib.request
from typing import Annotated

import typer

from .. import cli
from ..errors import ColdstartError

app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])


def call(url: str, body: dict | None = None, api_key: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["X-API-Key"] = api_key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers=headers, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def configured_api_key() -> str | None:
    if os.environ.get("API_KEY"):
        return os.environ["API_KEY"]
    from .settings import ServeSettings  # reads .env, as the service does

    key = ServeSettings().api_key
    return key.get_secret_value() if key else None


def key_hint(sent: str | None) -> str:
    """What a 401 asks for: the service's one API_KEY, here as where it runs (never printed)."""
    if not sent:
        return (
            " It needs its key and none was sent: set API_KEY in .env (or pass --api-key) to "
            "the key it runs with (a deploy that made one wrote it to the .env it ran from)."
        )
    return (
        " The key sent (--api-key, else API_KEY from the environment or .env) is not the one "
        "it runs with: set the same API_KEY here as where it runs (changed it? deploy or "
        "restart the service again with the new one)."
    )


@app.command()
def main(
    url: Annotated[str, typer.Option(help="The running service")] = "http://127.0.0.1:8000",
    api_key: Annotated[str | None, typer.Option(help="Default: API_KEY, as `make serve`")] = None,
) -> None:
    api_key = api_key or configured_api_key()
    try:
        example = call(f"{url}/model", api_key=api_key)["input_example"]
        answer = call(f"{url}/predict", example, api_key)
    except urllib.error.HTTPError as error:
        raise ColdstartError(
            f"The service answered {error.code}: {error.read().decode()}"
            + (key_hint(api_key) if error.code == 401 else "")
        ) from None
    except urllib.error.URLError as error:
        raise ColdstartError(
            f"No service at {url} ({error.reason}). Start it with `make serve`."
        ) from None
    print("Sent:    ", json.dumps(example))
    print("Answer:  ", json.dumps(answer))


if __name__ == "__main__":
    cli.run(app)
