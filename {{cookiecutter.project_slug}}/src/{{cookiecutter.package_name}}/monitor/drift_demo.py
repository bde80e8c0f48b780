"""`make drift-demo`: send the running service traffic like the training data, then a
shifted copy (one numeric column moved, one category's share changed), and show the
live PSI from /metrics after each. Then `make monitor` reports the same from the log.

    python -m {{ cookiecutter.package_name }}.monitor.drift_demo --url http://127.0.0.1:8000
"""

import argparse
import json
import math
import re
import time
import urllib.request

import numpy as np
import pandas as pd

from ..bundle import Bundle
from ..data.sample import make_sample
from ..serve.client import call, configured_api_key
from ..serve.settings import ServeSettings

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
    shares = bundle.reference.features[categorical].frequencies
    rarest = min(shares, key=shares.get)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--phase", choices=["both", "normal", "shifted"], default="both")
    parser.add_argument("--numeric", help="numeric column to shift (default: the first)")
    parser.add_argument("--categorical", help="categorical column to change (default: the first)")
    args = parser.parse_args()
    bundle = Bundle.load(ServeSettings().model_uri)
    numeric, categorical = default_columns(bundle)
    numeric, categorical = args.numeric or numeric, args.categorical or categorical
    key = configured_api_key()
    phases = ["normal", "shifted"] if args.phase == "both" else [args.phase]
    for seed, phase in enumerate(phases, start=1000):
        frame = feature_rows(bundle, args.rows, seed)
        if phase == "shifted":
            frame = shifted(frame, numeric, categorical, bundle, seed)
            print(f"Shifted {numeric!r} up by its interquartile range; half of {categorical!r} "
                  "set to its rarest training category.")  # fmt: skip
        send(args.url, frame, key)
        print(f"Sent {len(frame):,} {phase} rows. Live PSI (the last DRIFT_WINDOW rows, "
              "refreshed twice a second):")  # fmt: skip
        print(json.dumps(live_psi(args.url), indent=2))


if __name__ == "__main__":
    main()
