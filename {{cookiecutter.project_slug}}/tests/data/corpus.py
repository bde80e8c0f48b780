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


def with_units(kind: str, rows: int = ROWS, seed: int = 7) -> list[str]:
    """Numbers with units, as scraped listings write them. `kind`: one unit in two spellings
    ("8GB", "8 gb"), mixed units of one quantity ("728 MB", "0.73 GB"), units beside bare
    numbers ("50MHz", "50"), inches ('17"', "17"), units with junk ("ask"), an unknown unit
    ("4 cores") or units of two quantities ("8 GB", "100 MHz")."""
    r = rng(seed)
    gigabytes = r.choice([4, 8, 16, 32], rows)
    megabytes = r.integers(100, 4000, rows)
    written = {
        "one unit": [f"{g}GB" if r.random() < 0.5 else f"{g} gb" for g in gigabytes],
        "mixed units": [f"{m} MB" if m < 1000 else f"{m / 1000:.2f} GB" for m in megabytes],
        "bare numbers": [f"{m}MHz" if r.random() < 0.7 else f"{m}" for m in megabytes],
        "inches": [
            f'{s}"' if r.random() < 0.5 else f"{s}" for s in r.choice([13, 14, 15, 17], rows)
        ],
        "unknown unit": [f"{c} cores" for c in r.choice([2, 4, 6, 8], rows)],
        "binary units": [f"{g} GiB" if g > 4 else f"{g * 1024} MiB" for g in gigabytes],
        "two quantities": [f"{m} MB" if m < 2000 else f"{m} MHz" for m in megabytes],
    }
    if kind == "a few of another quantity":  # one cell in 40 holds the next column's value
        values = written["bare numbers"]
        for i in range(0, rows, 40):
            values[i] = f"{gigabytes[i]} GB"
        return values
    if kind in ("junk", "much junk"):  # one cell in 40, or one in 8, is a word
        values = written["mixed units"]
        step = 40 if kind == "junk" else 8
        for i in range(0, rows, step):
            values[i] = ["ask", "see photos"][i // step % 2]
        return values
    return written[kind]


def listings(rows: int = ROWS, seed: int = 8) -> pd.DataFrame:
    """Scraped web listings: prices as "$4,348.00", "2,225" or "1999 USD", unit columns with
    "N/A", "--" and blanks, a URL column, ISO timestamps with a zone, an HTML entity in the
    notes, Excel's empty trailing column and duplicated rows; the price follows the memory,
    the drive, the screen and the speed."""
    r = rng(seed)
    ram = r.choice([4, 8, 16, 32], rows)
    drive = r.integers(128, 4000, rows)
    screen = r.choice([13, 14, 15, 17], rows)
    speed = r.integers(1000, 4000, rows)
    price = 300 + 40 * ram + 0.2 * drive + 30 * screen + 0.05 * speed + r.normal(0, 40, rows)
    price_written = [
        [f"${p:,.2f}", f"{p:,.0f}", f"{p:.0f} USD"][i % 3] for i, p in enumerate(price)
    ]
    scraped = pd.Timestamp("2025-03-01T08:00:00+01:00") + pd.to_timedelta(
        r.integers(0, 10**7, rows), "s"
    )
    frame = pd.DataFrame(
        {
            "URL": [f"https://shop.example/item/{i}?ref=list" for i in range(rows)],
            "RAM": [f"{g}GB" if i % 2 else f"{g} gb" for i, g in enumerate(ram)],
            "Hard drive": [f"{m} MB" if m < 1000 else f"{m / 1000:.2f} GB" for m in drive],
            "CPU speed": [f"{m}MHz" if i % 3 else f"{m}" for i, m in enumerate(speed)],
            "Screen (in)": [f'{s}"' if i % 2 else f"{s}" for i, s in enumerate(screen)],
            "Scraped at": scraped.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "Notes": r.choice(["Like new &amp; boxed", "Scratches on the lid", ""], rows),
            "Price": price_written,
            "": "",  # Excel's empty trailing column: a header cell with no name, no values
        }
    )
    for column, marker in (("RAM", "N/A"), ("CPU speed", "--"), ("Screen (in)", "")):
        frame.loc[r.random(rows) < 0.03, column] = marker
    return pd.concat([frame, frame.sample(n=rows // 50, random_state=seed)])  # duplicated rows


def french_export(
    rows: int = ROWS, seed: int = 9, encoding: str = "cp1252", thousands: str = "."
) -> bytes:
    """A French spreadsheet export: cp1252, ";", decimal commas, "45.627,67" incomes (or
    "45 627,67" with `thousands`, as Excel writes them in France: a no-break space),
    accented headers, an ID like "D-2019-00042", and the target written five ways."""
    r = rng(seed)
    income = r.uniform(15_000, 90_000, rows)
    region = r.choice(["Île-de-France", "Provence", "Bretagne"], rows)
    accepted = income + r.normal(0, 8000, rows) > 50_000
    yes, no = ["Oui", "oui", "OUI", " Oui", "Oui"], ["Non", "non", "Non ", "Non"]
    currency = "EUR" if encoding == "latin-1" else "€"  # latin-1 has no euro sign
    frame = pd.DataFrame(
        {
            "Numéro de dossier": [f"D-2019-{i:05d}" for i in range(rows)],
            "Région": region,
            f"Revenu annuel ({currency})": [
                f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", thousands)
                for v in income
            ],
            "Âge": r.integers(18, 80, rows),
            "Accepté": [r.choice(yes) if a else r.choice(no) for a in accepted],
        }
    )
    return frame.to_csv(index=False, sep=";", lineterminator="\r\n").encode(encoding)


def storm_tracks(
    rows_per_storm: int = 12, storms: int = 60, seed: int = 10, runs: bool = True, reused: int = 1
):
    """Storm tracks: each storm's name on consecutive rows (`runs`), or scattered over the
    file; its rows share a status (the target), so a split that puts one storm on both sides
    lets the model recognise the storm instead of learning the weather. `reused`: each name
    is given to that many storms, years apart, as the hurricane centres' name lists are."""
    r = rng(seed)
    names = [f"Storm {chr(65 + i % 26)}{i:03d}" for i in range(storms // reused)] * reused
    status = r.choice(["depression", "storm", "hurricane"], storms)
    wind = {"depression": 25, "storm": 45, "hurricane": 90}
    rows = [
        {
            "name": name,
            "year": 1990 + i % 30,
            "month": r.integers(6, 12),
            "day": r.integers(1, 28),
            "wind": wind[status[i]] + r.normal(0, 12),
            "pressure": r.normal(990, 10),
            "status": status[i],
        }
        for i, name in enumerate(names)
        for _ in range(rows_per_storm)
    ]
    frame = pd.DataFrame(rows)
    if not runs:
        frame = frame.sample(frac=1, random_state=seed).reset_index(drop=True)
    return frame


def utf16(frame: pd.DataFrame, bom: bool) -> bytes:
    """Excel's "Unicode text": UTF-16 (little-endian), tab-separated, with or without a BOM."""
    text = frame.to_csv(index=False, sep="\t")
    return text.encode("utf-16" if bom else "utf-16-le")


@dataclass
class Case:
    name: str
    csv: bytes
    target: str = "price"
    column: str = ""
    kind: str = ""  # the expected decision for `column`
    error: str = ""  # or the expected data error (a part of the message, exactly)
    task: str | None = None
    settings: dict = field(default_factory=dict)  # environment variables, e.g. CSV_ENCODING


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


def zoned_timestamps() -> list[str]:
    """ISO timestamps as a scraper writes them, in the zone of each listing: "Z", "+01:00",
    "-05:00" in one column."""
    moments = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng(13).integers(0, 10**7, ROWS), "s"
    )
    zones = ["UTC", "Europe/Paris", "America/New_York"]
    written = [m.tz_convert(zones[i % 3]).isoformat() for i, m in enumerate(moments)]
    return [w.replace("+00:00", "Z") for w in written]


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
    return (
        [
            Case(
                "categories normalised",
                to_csv(with_column("area", spaces)),
                column="area",
                kind="categorical",
            ),
            Case(
                "numbers written as text",
                to_csv(with_column("budget", numbers_as_text())),
                column="budget",
                kind="numeric",
            ),
            Case(
                "a few junk values become missing",
                to_csv(with_column("age", mostly_numbers(40))),
                column="age",
                kind="numeric",
            ),
            Case(
                "neither numeric nor a category",
                to_csv(with_column("age", mostly_numbers(3))),
                error="Column 'age' is neither clearly numeric nor a category: 33.3% of its values "
                "are text (e.g. 'unknown', 'see notes', 'ask')",
            ),
            Case(
                "codes with thousands of values are left out",
                to_csv(with_column("code", [f"X{i}" if i % 3 else f"{i}" for i in range(ROWS)])),
                column="code",
                kind="id",
            ),
            Case(
                "high-cardinality text is left out",
                to_csv(with_column("street", [f"street {i % 120}" for i in range(ROWS)])),
                column="street",
                kind="dropped",
            ),
            Case(
                "Studio among bedroom counts is categorical",
                to_csv(with_column("Bedrooms", r.choice(["Studio", "1", "2", "3"], ROWS))),
                column="Bedrooms",
                kind="categorical",
            ),
            Case(
                "a unique integer ID",
                to_csv(with_column("patient_id", r.permutation(ROWS) * 7 + 3)),
                column="patient_id",
                kind="id",
            ),
            Case(
                "consecutive row numbers",
                to_csv(with_column("row", r.permutation(ROWS) + 1)),
                column="row",
                kind="id",
            ),
            Case(
                "a string ID",
                to_csv(with_column("Order Ref", [f"ORD-{i:05d}" for i in range(ROWS)])),
                column="Order Ref",
                kind="id",
            ),
            Case(
                "dates become features",
                to_csv(with_column("visited", date_values("%d/%m/%Y"))),
                column="visited",
                kind="date",
            ),
            Case(
                "free text is left out",
                to_csv(
                    with_column(
                        "notes", [f"called on day {i}, wants a viewing soon" for i in range(ROWS)]
                    )
                ),
                column="notes",
                kind="text",
            ),
            Case(
                "infinite values become missing", to_csv(infinite), column="ratio", kind="numeric"
            ),
            Case(
                "a constant column",
                to_csv(with_column("country", ["UK"] * ROWS)),
                column="country",
                kind="constant",
            ),
            Case(
                "an empty column",
                to_csv(with_column("comment", [""] * ROWS)),
                column="comment",
                kind="dropped",
            ),
            Case(
                "semicolons and decimal commas",
                to_csv(
                    with_column("weight", [f"{v:.2f}" for v in r.uniform(1, 9, ROWS)]), sep=";"
                ).replace(b".", b","),
                column="weight",
                kind="numeric",
            ),
            Case(
                "tab separated",
                to_csv(with_column("colour", r.choice(["red", "blue"], ROWS)), sep="\t"),
                column="colour",
                kind="categorical",
            ),
            Case(
                "pipe separated",
                to_csv(with_column("colour", r.choice(["red", "blue"], ROWS)), sep="|"),
                column="colour",
                kind="categorical",
            ),
            Case(
                "UTF-8 with BOM and CRLF",
                base().to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig"),
                column="size",
                kind="numeric",
            ),
            Case(
                "duplicate column names",
                to_csv(duplicate),
                error="has the same column name more than once: 'age' at columns 4, 5",
            ),
            Case(
                "latin-1 is read without a setting",
                to_csv(with_column("Région", ["Île", "Nord"] * (ROWS // 2)), encoding="latin-1"),
                column="Région",
                kind="categorical",
            ),
            Case(
                "regression target with text",
                to_csv(junk_target),
                error="Target 'price' must be numbers for regression, but 10.0% of its values are text "
                "(e.g. 'call us')",
            ),
            Case(
                "fractional labels for classification",
                to_csv(fractional),
                target="label",
                task="classification",
                error="TASK=classification, but target 'label' holds fractional numbers (e.g. ",
            ),
            Case(
                "too many columns",
                to_csv(
                    pd.concat(
                        [
                            base(),
                            pd.DataFrame(
                                rng(6).normal(size=(ROWS, 1200)),
                                columns=[f"c{i}" for i in range(1200)],
                            ),
                        ],
                        axis=1,
                    )
                ),
                error="has 1,202 feature columns for 240 rows: more than MAX_COLUMNS=1,000",
            ),
        ]
        + unit_cases()
        + encoding_cases()
        + group_cases()
        + refused_settings()
        + misshapen_files()
    )


def unit_cases() -> list[Case]:
    def unit_column(kind: str) -> bytes:
        return to_csv(with_column("measure", with_units(kind)))

    return [
        Case(
            "one unit in two spellings is numeric",
            unit_column("one unit"),
            column="measure",
            kind="numeric",
        ),
        Case(
            "mixed units are converted to one",
            unit_column("mixed units"),
            column="measure",
            kind="numeric",
        ),
        Case(
            "bare numbers in a unit column are read in its unit",
            unit_column("bare numbers"),
            column="measure",
            kind="numeric",
        ),
        Case("inch marks are a unit", unit_column("inches"), column="measure", kind="numeric"),
        Case(
            "binary units (GiB, MiB) are data sizes",
            unit_column("binary units"),
            column="measure",
            kind="numeric",
        ),
        Case("units with a few junk values", unit_column("junk"), column="measure", kind="numeric"),
        Case(
            "units with many words stop and ask",
            unit_column("much junk"),
            error="Column 'measure' is neither clearly numeric nor a category: 12.5% of its "
            "values are text (e.g. 'ask', 'see photos')",
        ),
        Case(
            "NUMERIC_COLUMNS on units with many words reads the units",
            unit_column("much junk"),
            column="measure",
            kind="numeric",
            settings={"NUMERIC_COLUMNS": '["measure"]'},
        ),
        Case(
            "a few values in another quantity are junk",
            unit_column("a few of another quantity"),
            column="measure",
            kind="numeric",
        ),
        Case(
            "an unknown unit falls back to the other rules",
            unit_column("unknown unit"),
            column="measure",
            kind="categorical",
        ),
        Case(
            "units of two quantities fall back to the other rules",
            unit_column("two quantities"),
            column="measure",
            kind="dropped",
        ),
        Case(
            "a URL column is left out as URLs",
            to_csv(listings()),
            target="Price",
            column="URL",
            kind="url",
        ),
        Case(
            "scraped prices with units",
            to_csv(listings()),
            target="Price",
            column="Hard drive",
            kind="numeric",
        ),
        Case(
            "ISO timestamps with a zone are dates",
            to_csv(listings()),
            target="Price",
            column="Scraped at",
            kind="date",
        ),
        Case(
            "ISO timestamps in several zones are dates",
            to_csv(with_column("Posted", zoned_timestamps())),
            column="Posted",
            kind="date",
        ),
        Case(
            "Excel's empty trailing column",
            to_csv(listings()),
            target="Price",
            column="Unnamed: 8",
            kind="dropped",
        ),
        Case(
            "NUMERIC_COLUMNS on a unit column reads the units",
            unit_column("mixed units"),
            column="measure",
            kind="numeric",
            settings={"NUMERIC_COLUMNS": '["measure"]'},
        ),
    ]


def encoding_cases() -> list[Case]:
    accented = with_column("Région", rng(11).choice(["Île-de-France", "Nord", "Rhône"], ROWS))
    return [
        Case(
            "a cp1252 export with decimal commas",
            french_export(),
            target="Accepté",
            column="Revenu annuel (€)",
            kind="numeric",
        ),
        Case(
            "thousands with a no-break space",
            french_export(thousands="\u00a0"),
            target="Accepté",
            column="Revenu annuel (€)",
            kind="numeric",
        ),
        Case(
            "thousands with a space",
            french_export(thousands=" "),
            target="Accepté",
            column="Revenu annuel (€)",
            kind="numeric",
        ),
        Case(
            "thousands with a narrow no-break space, UTF-8 with a BOM",
            french_export(encoding="utf-8-sig", thousands="\u202f"),
            target="Accepté",
            column="Revenu annuel (€)",
            kind="numeric",
        ),
        Case(
            "a latin-1 export",
            french_export(encoding="latin-1"),
            target="Accepté",
            column="Région",
            kind="categorical",
        ),
        Case(
            "an ID like D-2019-00042",
            french_export(),
            target="Accepté",
            column="Numéro de dossier",
            kind="id",
        ),
        Case("UTF-16 with a BOM", utf16(accented, bom=True), column="Région", kind="categorical"),
        Case(
            "UTF-16 without a BOM", utf16(accented, bom=False), column="Région", kind="categorical"
        ),
        Case("UTF-8 without a BOM", to_csv(accented), column="Région", kind="categorical"),
        Case(
            "a stale CSV_ENCODING on a UTF-8 file with a BOM",
            spreadsheet_export(),
            target="Monthly rent",
            settings={"CSV_ENCODING": "cp1252"},
            error="CSV_ENCODING=cp1252 cannot be right for",
        ),
        Case(
            "a stale CSV_ENCODING on UTF-8 text",
            to_csv(accented),
            settings={"CSV_ENCODING": "latin-1"},
            error="CSV_ENCODING=latin-1 cannot be right for",
        ),
    ]


def rescraped(rows: int = ROWS, seed: int = 12) -> pd.DataFrame:
    """Listings scraped twice: a third of the IDs on a second row, its price moved by 5%."""
    frame = base(rows, seed).assign(**{"Listing ID": range(50_000, 50_000 + rows)})
    again = frame.sample(frac=1 / 3, random_state=seed).assign(price=lambda f: f["price"] * 1.05)
    return pd.concat([frame, again]).sample(frac=1, random_state=seed)


def group_cases() -> list[Case]:
    runs, scattered = storm_tracks(), storm_tracks(runs=False)
    with_ids = storm_tracks().assign(customer_id=lambda f: f["name"].str[-3:].astype(int) + 1000)
    return [
        Case(
            "storm names in runs are groups",
            to_csv(runs),
            target="status",
            column="name",
            kind="group",
        ),
        Case(
            "scattered names are not groups",
            to_csv(scattered),
            target="status",
            column="name",
            kind="dropped",
        ),
        Case(
            "storm names reused years apart are groups",
            to_csv(storm_tracks(storms=120, reused=2)),
            target="status",
            column="name",
            kind="group",
        ),
        Case(
            "a repeated whole-number ID in runs is a group",
            to_csv(with_ids.drop(columns="name")),
            target="status",
            column="customer_id",
            kind="group",
        ),
        Case(
            "a listing ID scraped twice is a group, never a number",
            to_csv(rescraped()),
            column="Listing ID",
            kind="group",
        ),
        Case(
            "a listing ID scraped twice, group detection off, is left out as an ID",
            to_csv(rescraped()),
            column="Listing ID",
            kind="id",
            settings={"GROUP_COLUMN": "none"},
        ),
        Case(
            "GROUP_COLUMN names the group",
            to_csv(scattered),
            target="status",
            column="name",
            kind="group",
            settings={"GROUP_COLUMN": "name"},
        ),
        Case(
            "GROUP_COLUMN=none turns detection off",
            to_csv(runs),
            target="status",
            column="name",
            kind="dropped",
            settings={"GROUP_COLUMN": "none"},
        ),
    ]


def refused_settings() -> list[Case]:
    colours = with_column("colour", rng(12).choice(["red", "blue"], ROWS))
    return [
        Case(
            "NUMERIC_COLUMNS on a text column",
            to_csv(colours),
            settings={"NUMERIC_COLUMNS": '["colour"]'},
            error="NUMERIC_COLUMNS names 'colour', but 100.0% of its values are not numbers",
        ),
        Case(
            "CATEGORICAL_COLUMNS on a date",
            to_csv(with_column("visited", date_values())),
            settings={"CATEGORICAL_COLUMNS": '["visited"]'},
            error="CATEGORICAL_COLUMNS names 'visited', but it holds dates",
        ),
        Case(
            "GROUP_COLUMN that is not in the file",
            to_csv(colours),
            settings={"GROUP_COLUMN": "storm"},
            error="GROUP_COLUMN=storm is not a column of the file",
        ),
        Case(
            "DROP_COLUMNS naming a column the file lacks (a typo would keep a leak)",
            to_csv(colours),
            settings={"DROP_COLUMNS": '["colur"]'},
            error="DROP_COLUMNS names 'colur', which",
        ),
        Case(
            "FEATURE_COLUMNS naming a column the file lacks",
            to_csv(colours),
            settings={"FEATURE_COLUMNS": '["colour", "weight"]'},
            error="FEATURE_COLUMNS names 'weight', which",
        ),
    ]


def misshapen_files() -> list[Case]:
    """Files pandas would read wrongly, or explain in its own words: each refused in ours."""
    header, row = "price,colour,size", "{},red,{}"
    rows = [row.format(i, i % 7) for i in range(60)]
    return [
        Case(
            "one data row (too few rows, not 'no feature columns')",
            f"{header}\n{rows[0]}\n".encode(),
            error="Only 1 usable row after cleaning",
        ),
        Case(
            "the first data row has an extra field (pandas would shift every column)",
            "\n".join([header, rows[0] + ",extra", *rows[1:]]).encode(),
            error="the first data row has 4 fields but the header names 3 columns",
        ),
        Case(
            "a later row has an extra field (one line, the fix for it)",
            "\n".join([header, *rows[:9], rows[9] + ",extra", *rows[10:]]).encode(),
            error="Expected 3 fields in line 11, saw 4). Quote the values",
        ),
    ]
