"""Before anything is timed: every target must give our answers to the same requests.

A server that answers something else (an error, other labels, other probabilities) would
be measured doing other work. Each answer is reduced to (label, probabilities or None):
ours and the peers' carry both; `mlflow models serve` the label alone.
"""

import json
import math
import urllib.request

TOLERANCE = 1e-5  # float32 (ONNX) against float64 (scikit-learn), to 6 decimals


def ask(url: str, body: bytes, headers: dict):
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"} | headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def reduced(answer) -> list[tuple]:
    """Ours ({...} or {"predictions": [...]}), the peers' ([...]), mlflow's (labels)."""
    if isinstance(answer, dict):
        answer = answer.get("predictions", [answer])
    return [
        (item.get("prediction"), item.get("probabilities"))
        if isinstance(item, dict)
        else (item, None)
        for item in answer
    ]


def close(probabilities: dict | None, theirs: dict | None) -> bool:
    """Equal to TOLERANCE, where both carry probabilities."""
    if probabilities is None or theirs is None:
        return True
    return probabilities.keys() == theirs.keys() and all(
        abs(probabilities[k] - theirs[k]) <= TOLERANCE for k in probabilities
    )


def same(ours: list[tuple], theirs: list[tuple]) -> bool:
    if len(ours) != len(theirs):
        return False
    for (label, probabilities), (their_label, their_probabilities) in zip(
        ours, theirs, strict=True
    ):
        if label != their_label and not (
            isinstance(label, float) and math.isclose(label, their_label, rel_tol=TOLERANCE)
        ):
            return False
        if not close(probabilities, their_probabilities):
            return False
    return True


def check_answers(servers: list) -> dict:
    """{target: "equal"} for every server but the floor; raises if one answers otherwise."""
    ours = next(server for server in servers if server.name == "coldstart")
    expected = {
        kind: reduced(ask(*getattr(ours, kind), ours.headers)) for kind in ("single", "batch")
    }
    checked = {}
    for server in servers:
        if server.name == "bare ASGI":  # the floor answers no prediction
            continue
        for kind, wanted in expected.items():
            request = getattr(server, kind)
            if request is None:
                continue
            got = reduced(ask(*request, server.headers))
            if not same(wanted, got):
                raise SystemExit(
                    f"{server.name} answers {kind} requests otherwise than this service: "
                    f"{got[:2]} where we answer {wanted[:2]}. Not measured."
                )
        checked[server.name] = "equal"
    return checked
