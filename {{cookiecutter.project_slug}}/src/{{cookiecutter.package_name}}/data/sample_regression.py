"""Write a realistic, dirty used-car price data set (`make data`).

Real data is never clean, so this sample is not either: it has missing values,
impossible outliers, duplicated rows, some wrong prices, an ID column and a
date column (it becomes date features), a column name with spaces and
symbols, and a rare fuel type. Same seed, same file, every time.
"""

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from .. import cli

DEFAULT_OUTPUT = Path("data/raw/used_cars.csv")
TARGET = "price"


def make_sample(rows: int = 5000, seed: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    make = rng.choice(["toyota", "ford", "bmw", "skoda", "fiat", "tesla"], rows)
    fuel = rng.choice(["petrol", "diesel", "hybrid", "electric"], rows, p=[0.5, 0.3, 0.15, 0.05])
    transmission = rng.choice(["manual", "automatic"], rows, p=[0.55, 0.45])
    age_years = rng.integers(0, 20, rows)
    mileage = np.round(
        age_years * rng.normal(14000, 4000, rows).clip(2000, None) + rng.integers(0, 5000, rows)
    )
    engine = np.round(rng.choice([1.0, 1.2, 1.4, 1.6, 2.0, 2.5, 3.0], rows), 1)
    owners = np.minimum(1 + age_years // 5 + rng.poisson(0.3, rows), 6)
    condition = rng.choice(["poor", "fair", "good", "excellent"], rows, p=[0.1, 0.3, 0.45, 0.15])

    base = {
        "toyota": 21000,
        "ford": 18000,
        "bmw": 36000,
        "skoda": 17000,
        "fiat": 13000,
        "tesla": 45000,
    }
    condition_factor = {"poor": 0.7, "fair": 0.85, "good": 1.0, "excellent": 1.12}
    price = (
        np.vectorize(base.get)(make)
        * np.vectorize(condition_factor.get)(condition)
        * 0.9**age_years
        * (1 + 0.08 * (engine - 1.6))
        * np.where(fuel == "electric", 1.15, 1.0)
        * np.where(transmission == "automatic", 1.06, 1.0)
        - 0.02 * mileage
    )
    price = np.round(np.maximum(price * rng.normal(1, 0.07, rows), 500), -1)

    frame = pd.DataFrame(
        {
            "listing_id": [f"L{i:06d}" for i in rng.permutation(rows)],
            "listed_on": (
                pd.Timestamp("2026-10-01") - pd.to_timedelta(rng.integers(0, 365, rows), "D")
            ).strftime("%Y-%m-%d"),
            "Make": make,
            "model_year": (2026 - age_years).astype(float),
            "Mileage (km)": mileage,
            "engine_size_l": engine,
            "fuel_type": fuel,
            "transmission": transmission,
            "owner_count": owners.astype(float),
            "condition": condition,
            TARGET: price,
        }
    )
    return make_dirty(frame, rng)


def make_dirty(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frame = frame.copy()
    rows = len(frame)
    # Missing values: 5-10% in several columns, as forms left blank would give.
    for column, share in [
        ("Mileage (km)", 0.08),
        ("engine_size_l", 0.06),
        ("owner_count", 0.05),
        ("condition", 0.07),
        ("transmission", 0.05),
    ]:
        frame.loc[rng.random(rows) < share, column] = np.nan
    # Gross outliers: an odometer typo and a placeholder year.
    frame.loc[rng.choice(rows, 8, replace=False), "Mileage (km)"] = 9_999_999.0
    frame.loc[rng.choice(rows, 5, replace=False), "model_year"] = 1900.0
    # Label noise: 3% of prices were entered wrongly (off by up to half).
    wrong = rng.random(rows) < 0.03
    frame.loc[wrong, TARGET] = np.round(
        frame.loc[wrong, TARGET] * rng.uniform(0.5, 1.5, wrong.sum()), -1
    )
    # Duplicates: the same listing scraped twice.
    duplicates = frame.sample(n=int(rows * 0.02), random_state=int(rng.integers(1 << 31)))
    return pd.concat([frame, duplicates]).sample(frac=1, random_state=0).reset_index(drop=True)


app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])


@app.command()
def main(
    output: Annotated[Path, typer.Option(help="The CSV file to write")] = DEFAULT_OUTPUT,
    rows: Annotated[int, typer.Option(help="Rows before duplicates are added")] = 5000,
    seed: Annotated[int, typer.Option(help="The same seed writes the same file")] = 42,
) -> None:
    frame = make_sample(rows, seed)
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False)
    print(f"Wrote {len(frame):,} rows x {frame.shape[1]} columns to {output}")


if __name__ == "__main__":
    cli.run(app)
