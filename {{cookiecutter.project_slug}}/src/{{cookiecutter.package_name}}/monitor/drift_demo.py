"""`make drift-demo`: send the running service traffic like the training data, then a
shifted copy (one numeric column moved, one category's share changed), and show the
live PSI from /metrics after each. Then `make monitor` reports the same from the log.

    python -m {{ cookiecutter.package_name }}.monitor.drift_demo --url http://127.0.0.1:8000
"""

import json
import math
import re
import time
import urllib.request
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import typer

from .. import cli
from ..contract.bundle import Bundle
from ..data.sample import make_sample
from ..serve.client import call, configured_api_key
from ..serve.settings import ServeSettings
from .errors import MonitorError

BATCH = 100
PSI_LINE = re.compile(r'^model_drift_psi\{feature="(.+)"\} (\S+)$', re.MULTILINE)


def feature_rows(bundle: Bundle, rows: int, seed: int) -> pd.DataFrame:
    """Fresh rows from the sample generator (another seed than training's data)."""
    return make_sample(rows=rows, seed=seed)[bundle.schema.names]


def shifted(frame: pd.DataFrame, numeric: str, categorical: str, bundle: Bundle, seed: int):
    """`numeric` moved up by its interquartile range; half the rows set to the category
    that was rarest in training."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    values = pd.to_numeric(frame[numeric], errors="coerce")
    frame[numeric] = values + (values.quantile(0.75) - values.quantile(0.25))
    if bundle.reference is None:
        raise MonitorError(
            f"{bundle.directory} has no reference.json (exported before monitoring existed): "
            "retrain with `make train`."
        )
    shares = bundle.reference.features[categorical].frequencies
    rarest = min(shares, key=shares.__getitem__)
    frame.loc[rng.random(len(frame)) < 0.5, categorical] = rarest
    return frame


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: missing values as null."""
    rows = frame.astype(object).to_dict("records")
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in rows
    ]


def send(url: str, frame: pd.DataFrame, api_key: str | None) -> None:
    rows = records(frame)
    for start in range(0, len(rows), BATCH):
        call(f"{url}/predict/batch", {"records": rows[start : start + BATCH]}, api_key)


def live_psi(url: str) -> dict[str, float]:
    time.sleep(1.5)  # the service refreshes its drift gauges twice a second
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {name: float(value) for name, value in PSI_LINE.findall(text)}


def default_columns(bundle: Bundle) -> tuple[str, str]:
    return bundle.schema.of_kind("numeric")[0], bundle.schema.of_kind("categorical")[0]


app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])
Phase = Literal["both", "normal", "shifted"]


@app.command()
def main(
    url: Annotated[str, typer.Option(help="The running service")] = "http://127.0.0.1:8000",
    rows: Annotated[int, typer.Option(help="Rows per phase")] = 1000,
    phase: Annotated[Phase, typer.Option(help="Which traffic to send")] = "both",
    numeric: Annotated[
        str | None, typer.Option(help="Numeric column to shift (default: the first)")
    ] = None,
    categorical: Annotated[
        str | None, typer.Option(help="Categorical column to change (default: the first)")
    ] = None,
) -> None:
    bundle = Bundle.load(ServeSettings().model_uri)
    first_numeric, first_categorical = default_columns(bundle)
    numeric, categorical = numeric or first_numeric, categorical or first_categorical
    key = configured_api_key()
    phases = ["normal", "shifted"] if phase == "both" else [phase]
    for seed, sent in enumerate(phases, start=1000):
        frame = feature_rows(bundle, rows, seed)
        if sent == "shifted":
            frame = shifted(frame, numeric, categorical, bundle, seed)
            print(
                f"Shifted {numeric!r} up by its interquartile range; half of {categorical!r} "
                "set to its rarest training category."
            )
        send(url, frame, key)
        print(
            f"Sent {len(frame):,} {sent} rows. Live PSI (the last DRIFT_WINDOW rows, "
            "refreshed twice a second):"
        )
        print(json.dumps(live_psi(url), indent=2))


if __name__ == "__main__":
    cli.run(app)
