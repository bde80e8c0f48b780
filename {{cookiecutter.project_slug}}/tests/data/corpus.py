"""A corpus of messy CSV files, made by code: the mess that real, self-collected data carries.

Each case is a file (bytes, exactly as a spreadsheet or a scraper would write it),
the target to train on, and what must happen: a column decision, or a data error
with its exact message (exit code 2 from `make train`).
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ROWS = 240


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def base(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """A small, learnable table: the cases add one messy column (or file property) to it."""
    r = rng(seed)
    size = r.integers(30, 150, rows)
    kind = r.choice(["flat", "house"], rows)
    price = 1000 + 12 * size + 400 * (kind == "house") + r.normal(0, 80, rows)
    return pd.DataFrame({"size": size, "kind": kind, "price": price.round(2)})


def to_csv(frame: pd.DataFrame, sep: str = ",", encoding: str = "utf-8") -> bytes:
    return frame.to_csv(index=False, sep=sep).encode(encoding)


def spreadsheet_export(rows: int = 400, seed: int = 3) -> bytes:
    """The "done when" file: exported by a person from a spreadsheet. BOM, CRLF line ends,
    N/A, thousands separators, currency and percent signs, mixed case and trailing spaces,
    an ID, a date, a notes column and "Studio" among the bedroom counts."""
    r = rng(seed)
    bedrooms = r.choice(["Studio", "1", "2", "3", "4"], rows, p=[0.1, 0.3, 0.3, 0.2, 0.1])
    rooms = np.where(bedrooms == "Studio", 0, pd.to_numeric(bedrooms, errors="coerce"))
    area = np.round(25 + 28 * rooms + r.normal(0, 8, rows) + 1000 * (r.random(rows) < 0.05))
    places = ["Downtown", "Riverside", "Old Town"]
    spelled = {
        "Downtown": ["Downtown", "DOWNTOWN", "Downtown ", " downtown"],
        "Riverside": ["Riverside", "riverside ", "RIVERSIDE"],
        "Old Town": ["Old Town", "old town", "Old  Town"],
    }
    place = r.choice(places, rows)
    written = [r.choice(spelled[p]) for p in place]
    rent = 650 + 420 * rooms + 2.0 * np.minimum(area, 200) + 500 * (place == "Downtown")
    rent = rent + r.normal(0, 60, rows)
    listed = pd.Timestamp("2025-01-01") + pd.to_timedelta(r.integers(0, 600, rows), "D")
    notes = [
        f"Viewed {r.integers(1, 9)} times; landlord says {r.choice(['flexible', 'firm', 'open'])} "
        f"on price, contact {r.integers(100, 999)}"
        for _ in range(rows)
    ]
    frame = pd.DataFrame(
        {
            "Listing ID": r.permutation(rows) + 10_001,
            "Listed on": listed.strftime("%d/%m/%Y"),
            "Neighbourhood": written,
            "Bedrooms": bedrooms,
            "Floor area (sq ft)": [f"{10.76 * a:,.0f}" for a in area],
            "Agent fee": [f"{f}%" for f in r.choice([8, 10, 12], rows)],
            "Notes": notes,
            "Monthly rent": [f"${v:,.0f}" for v in rent],
            "Let within a month": np.where(rent + r.normal(0, 150, rows) < 1700, "yes", "no"),
        }
    )
    frame.loc[r.random(rows) < 0.06, "Floor area (sq ft)"] = "N/A"
    frame.loc[r.random(rows) < 0.03, "Monthly rent"] = "N/A"
    text = frame.to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8-sig")


@dataclass
class Case:
    name: str
    csv: bytes
    target: str = "price"
    column: str = ""
    kind: str = ""  # the expected decision for `column`
    error: str = ""  # or the expected data error (a part of the message, exactly)
    task: str | None = None
    settings: dict = field(default_factory=dict)


def with_column(name: str, values, **frame_options) -> pd.DataFrame:
    frame = base(**frame_options)
    frame.insert(0, name, list(values))
    return frame


def numbers_as_text() -> list[str]:
    r = rng(1)
    values = [f"${v:,.2f}" for v in r.uniform(500, 5000, ROWS)]
    values[:6] = ["1,234", " 3.5 ", "45%", "N/A", "#DIV/0!", "-"]
    return values


def mostly_numbers(junk_every: int) -> list[str]:
    values = [str(v) for v in rng(2).integers(18, 90, ROWS)]
    for i in range(0, ROWS, junk_every):
        values[i] = ["unknown", "see notes", "ask"][(i // junk_every) % 3]
    return values


def date_values(fmt: str = "%Y-%m-%d") -> list[str]:
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng(4).integers(0, 700, ROWS), "D")
    return list(days.strftime(fmt))


def corpus() -> list[Case]:
    r = rng(5)
    spaces = r.choice(["Downtown", " downtown ", "DOWNTOWN", "Ｄｏｗｎｔｏｗｎ", "Riverside"], ROWS)
    duplicate = base().assign(age=1, extra=2).rename(columns={"extra": "age"})
    junk_target = base()
    junk_target["price"] = junk_target["price"].astype(object)
    junk_target.loc[::10, "price"] = "call us"
    fractional = base().assign(label=r.choice([0.5, 1.5, 2.5], ROWS))
    infinite = with_column("ratio", r.normal(1, 0.2, ROWS))
    infinite.loc[:4, "ratio"] = np.inf
    return [
        Case("categories normalised", to_csv(with_column("area", spaces)), column="area",
             kind="categorical"),
        Case("numbers written as text", to_csv(with_column("budget", numbers_as_text())),
             column="budget", kind="numeric"),
        Case("a few junk values become missing", to_csv(with_column("age", mostly_numbers(40))),
             column="age", kind="numeric"),
        Case("neither numeric nor a category", to_csv(with_column("age", mostly_numbers(3))),
             error="Column 'age' is neither clearly numeric nor a category: 33.3% of its values "
                   "are text (e.g. 'unknown', 'see notes', 'ask')"),
        Case("codes with thousands of values are left out",
             to_csv(with_column("code", [f"X{i}" if i % 3 else f"{i}" for i in range(ROWS)])),
             column="code", kind="id"),
        Case("high-cardinality text is left out",
             to_csv(with_column("street", [f"street {i % 120}" for i in range(ROWS)])),
             column="street", kind="dropped"),
        Case("Studio among bedroom counts is categorical",
             to_csv(with_column("Bedrooms", r.choice(["Studio", "1", "2", "3"], ROWS))),
             column="Bedrooms", kind="categorical"),
        Case("a unique integer ID", to_csv(with_column("patient_id", r.permutation(ROWS) * 7 + 3)),
             column="patient_id", kind="id"),
        Case("consecutive row numbers", to_csv(with_column("row", r.permutation(ROWS) + 1)),
             column="row", kind="id"),
        Case("a string ID", to_csv(with_column("Order Ref", [f"ORD-{i:05d}" for i in range(ROWS)])),
             column="Order Ref", kind="id"),
        Case("dates become features", to_csv(with_column("visited", date_values("%d/%m/%Y"))),
             column="visited", kind="date"),
        Case("free text is left out",
             to_csv(with_column("notes", [f"called on day {i}, wants a viewing soon" for i in range(ROWS)])),
             column="notes", kind="text"),
        Case("infinite values become missing", to_csv(infinite), column="ratio", kind="numeric"),
        Case("a constant column", to_csv(with_column("country", ["UK"] * ROWS)),
             column="country", kind="constant"),
        Case("an empty column", to_csv(with_column("comment", [""] * ROWS)),
             column="comment", kind="dropped"),
        Case("semicolons and decimal commas",
             to_csv(with_column("weight", [f"{v:.2f}" for v in r.uniform(1, 9, ROWS)]), sep=";")
             .replace(b".", b","),
             column="weight", kind="numeric"),
        Case("tab separated", to_csv(with_column("colour", r.choice(["red", "blue"], ROWS)), sep="\t"),
             column="colour", kind="categorical"),
        Case("pipe separated", to_csv(with_column("colour", r.choice(["red", "blue"], ROWS)), sep="|"),
             column="colour", kind="categorical"),
        Case("UTF-8 with BOM and CRLF", base().to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig"),
             column="size", kind="numeric"),
        Case("duplicate column names", to_csv(duplicate),
             error="has the same column name more than once: 'age' at columns 4, 5"),
        Case("not UTF-8", to_csv(with_column("Région", ["Île", "Nord"] * (ROWS // 2)), encoding="latin-1"),
             error="is not UTF-8 text (byte 0xe9 at position 1). Save it as 'CSV UTF-8'"),
        Case("regression target with text", to_csv(junk_target),
             error="Target 'price' must be numbers for regression, but 10.0% of its values are text "
                   "(e.g. 'call us')"),
        Case("fractional labels for classification", to_csv(fractional), target="label",
             task="classification",
             error="TASK=classification, but target 'label' holds fractional numbers (e.g. "),
        Case("too many columns", to_csv(pd.concat([base(), pd.DataFrame(
            rng(6).normal(size=(ROWS, 1200)), columns=[f"c{i}" for i in range(1200)])], axis=1)),
             error="has 1,202 feature columns for 240 rows: more than MAX_COLUMNS=1,000"),
    ]  # fmt: skip
