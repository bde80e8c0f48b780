"""Write a realistic, dirty customer-churn data set (`make data`).

Real data is never clean, so this sample is not either: it has missing values,
impossible outliers, duplicated rows, a few wrong labels, an ID column and a
date column (it becomes date features), a column name with spaces and
symbols, and fewer churners than stayers. Same seed, same file, every time.
"""

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from .. import cli

DEFAULT_OUTPUT = Path("data/raw/customers.csv")
TARGET = "churned"


def make_sample(rows: int = 5000, seed: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    contract = rng.choice(["month-to-month", "one year", "two year"], rows, p=[0.55, 0.25, 0.2])
    internet = rng.choice(["fiber", "dsl", "none"], rows, p=[0.45, 0.4, 0.15])
    payment = rng.choice(
        ["card", "bank transfer", "electronic check", "mailed check"],
        rows,
        p=[0.3, 0.25, 0.3, 0.15],
    )
    tenure = rng.integers(0, 72, rows)
    monthly = np.round(rng.normal(65, 25, rows).clip(15, 150), 2)
    support_calls = rng.poisson(1.5, rows)
    age = rng.integers(18, 85, rows)

    # The "true" churn risk: short contracts, high bills, many support calls.
    logit = (
        -2.0
        + 1.8 * (contract == "month-to-month")
        - 1.2 * (contract == "two year")
        + 0.7 * (internet == "fiber")
        + 0.7 * (payment == "electronic check")
        + 0.025 * (monthly - 65)
        - 0.045 * tenure
        + 0.5 * support_calls
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))

    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in rng.permutation(rows)],
            "signup_date": (
                pd.Timestamp("2026-10-01")
                - pd.to_timedelta(tenure * 30 + rng.integers(0, 30, rows), "D")
            ).strftime("%Y-%m-%d"),
            "age": age.astype(float),
            "tenure_months": tenure.astype(float),
            "Monthly Charges ($)": monthly,
            "total_charges": np.round(monthly * np.maximum(tenure, 1), 2),
            "support_calls": support_calls.astype(float),
            "contract": contract,
            "internet_service": internet,
            "payment_method": payment,
            "region": rng.choice(["north", "south", "east", "west"], rows),
            TARGET: np.where(churned, "yes", "no"),
        }
    )
    return make_dirty(frame, rng)


def make_dirty(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frame = frame.copy()
    rows = len(frame)
    # Missing values: 5-10% in several columns, as forms left blank would give.
    for column, share in [
        ("age", 0.08),
        ("Monthly Charges ($)", 0.05),
        ("total_charges", 0.06),
        ("internet_service", 0.07),
        ("payment_method", 0.05),
    ]:
        frame.loc[rng.random(rows) < share, column] = np.nan
    # Gross outliers: typos and placeholder values.
    frame.loc[rng.choice(rows, 8, replace=False), "age"] = rng.choice([-1, 0, 150, 999], 8)
    frame.loc[rng.choice(rows, 6, replace=False), "Monthly Charges ($)"] = 99999.0
    # Label noise: 3% of labels are simply wrong.
    flip = rng.random(rows) < 0.03
    frame.loc[flip, TARGET] = np.where(frame.loc[flip, TARGET] == "yes", "no", "yes")
    # Duplicates: the same record exported twice.
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
