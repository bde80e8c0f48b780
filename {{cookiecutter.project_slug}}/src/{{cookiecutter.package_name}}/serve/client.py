"""`make predict`: ask a running service for its example record, send it, print the answer.

Talks HTTP with the standard library only. The API key (needed by /model and /predict
when the service has one) comes from --api-key,
the API_KEY environment variable, or .env: the same places `make serve` reads.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default=configured_api_key())
    args = parser.parse_args()
    try:
        example = call(f"{args.url}/model", api_key=args.api_key)["input_example"]
        answer = call(f"{args.url}/predict", example, args.api_key)
    except urllib.error.HTTPError as error:
        print(f"The service answered {error.code}: {error.read().decode()}", file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(
            f"No service at {args.url} ({error.reason}). Start it with `make serve`.",
            file=sys.stderr,
        )
        return 1
    print("Sent:    ", json.dumps(example))
    print("Answer:  ", json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
