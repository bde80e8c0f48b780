"""Column decisions: what each column of your table becomes, and why. Made once, at training.

Read this file top to bottom: these are all the rules. Every decision is written
into schema.json, shown in the terminal and in the data report, and applied
inside the saved pipeline, so serving treats a request exactly as training did.

Before any rule, text that means "no value" (empty, N/A, n/a, NA, -, ?, null,
#DIV/0!) is missing, and numbers written as text are read as numbers: "1,234",
"$1,200", "1999 USD", "45%", " 3.5 " (the percent sign is dropped: "45%" is 45); in a
file with decimal commas (semicolon-separated), "45.627,67" is 45627.67. Infinite
values (inf, -inf) are missing too, and counted.

The rules, in order; the first that matches decides:

 1. Your settings: DROP_COLUMNS -> dropped; FEATURE_COLUMNS (when set) -> only
    those are used; GROUP_COLUMN -> group (see 6.); NUMERIC_COLUMNS -> numeric (text
    in it becomes missing; refused if more than half its values would);
    CATEGORICAL_COLUMNS -> categorical (refused for a column of dates).
 2. Entirely missing -> dropped. A single value on every row -> constant, dropped.
 3. All numbers:
    - whole numbers, a different one on every row, named like an ID ("patient_id",
      "Order #") or a run of consecutive numbers -> ID, left out;
    - whole numbers named like an ID that repeat in runs (customer_id 1001 on five
      rows, then 1002) -> group (see 6.);
    - otherwise numeric.
 4. Numbers with units: at least 95% of the values are a number followed by one unit
    of data/units.py ("8GB", "8 gb", "100 MHz", '17"'; any case, with or without a
    space), or a bare number -> numeric. Units of one quantity are converted to the
    column's most common unit ("728 MB", "0.73 GB" -> MB), bare numbers are read in
    it ("50" beside "50MHz": MHz), and the decision names the unit. An unknown unit
    ("4 cores"), or units of two quantities (GB and MHz), on more than 5% of the values
    leave the column to the rules below, and the decision says why it was not read as
    numbers; on fewer ("8 GB" in a column of MHz) they are made missing, as words are. Where 50-95%
    are numbers with units and the rest words ("ask seller"), the words decide as in 5.
 5. Numbers mixed with some text:
    - at most 20 distinct values ("Studio", 1, 2, 3) -> categorical;
    - at least 95% numbers -> numeric; the text becomes missing, counted, with examples;
    - at least 50% numbers -> training stops (exit 2): is it a number or a label?
 6. Text:
    - at least 90% dates in one format -> date: year, month, day of week and days
      since the earliest date become features (DATE_COLUMNS=drop leaves dates out);
    - named like an ID and (nearly) unique, or a different value on every row -> ID;
    - at least 90% web addresses (http://, https://, www.) -> URL, left out;
    - a group: more distinct values than MAX_CATEGORIES, a median of 3 or more rows
      each, and at most 1.5 runs of consecutive rows per value on average (a storm's
      name on its 75 rows, a customer on theirs) or runs of 3 rows or more on average
      (a storm's name given again to a storm years later) -> group: left out as a feature, and
      every split (the test split and each cross-validation fold) keeps a group's rows
      on one side, so the score measures entities the model has not seen. The same
      values scattered over the file are no group. The first such column is the
      group; GROUP_COLUMN names it, GROUP_COLUMN=none turns detection off;
    - long text (on average 30+ characters or 4+ words) with many distinct values
      -> free text, left out (there is no text model here: add one in model/pipeline.py);
    - more than MAX_CATEGORIES (50) distinct values, or more than half the rows
      distinct -> left out: one-hot encoding would make thousands of columns;
    - otherwise categorical: spaces trimmed, case and Unicode unified (" DOWNTOWN "
      is "downtown"; NORMALISE_CATEGORIES=false turns it off), and categories seen
      in fewer than MIN_CATEGORY_COUNT training rows grouped together.

The target: numbers -> regression, unless they are at most 20 distinct whole
numbers that repeat (each value on two rows or more on average: classes); text ->
classification, its labels unified as categories are ('Oui', 'oui', 'OUI', ' Oui' are
one class, named by its most frequent spelling; the merges are listed). An ID (see 3.),
a date, or text different on every row is refused. A regression target with text in it,
or TASK=classification with fractional numbers, stops training with the fix.
More than MAX_COLUMNS feature columns stops training before any work starts.
"""

import re
import warnings
from dataclasses import dataclass, field, replace

import pandas as pd
from pandas.tseries.api import guess_datetime_format

from ..contract.values import (
    MISSING_MARKERS,
    category_text,
    days_since_epoch,
    normalise_category,
    number_in_text,
    number_reader,
)
from . import units as unit_table
from .load import DataError

MAX_CLASSES = 20  # a numeric target with at most this many whole values is a class label
FEW_VALUES = 20  # numbers mixed with words, at most this many distinct: categorical
JUNK_TOLERANCE = 0.05  # up to 5% text in a numeric column becomes missing
AMBIGUOUS_FROM = 0.5  # 50-95% numbers with many distinct values: stop and ask
DATE_SHARE = 0.9  # share of values that must read as dates in one format
ID_UNIQUE_SHARE = 0.9  # an ID-named column must be this unique
FREE_TEXT_CHARACTERS, FREE_TEXT_WORDS = 30, 4
MIN_ROWS_FOR_UNIQUENESS = 20  # "a different value on every row" means little on 5 rows
ID_NAME = re.compile(r"(^|[\s_#-])(id|uuid|guid|key|#|no|number)$|^id[\s_-]", re.IGNORECASE)
URL_SHARE = 0.9  # share of values that must be web addresses
URL = r"^(https?://|www\.)\S+$"
# A group (a storm, a customer): many distinct values, a median of GROUP_MIN_ROWS rows or
# more each, in at most GROUP_RUNS runs of consecutive rows per group on average, or in
# runs of GROUP_MIN_ROWS rows or more on average (names reused: one per storm, years apart).
GROUP_MIN_ROWS, GROUP_RUNS = 3, 1.5
# An ID-named column of whole numbers this distinct (values / rows) is an identifier that
# repeats (a listing scraped twice), never an amount: a group, or left out (repeated_id).
REPEATED_ID_SHARE = 0.5
FORCED_MISSING_LIMIT = 0.5  # NUMERIC_COLUMNS that would make more than half the values missing
FEATURE_KINDS = ("numeric", "categorical", "date")


@dataclass
class Options:
    """The settings that steer the decisions (from config.Settings)."""

    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    normalise_categories: bool = True
    max_categories: int = 50
    dates: str = "features"  # or "drop"
    max_columns: int = 1000
    min_category_count: int = 5
    group: str | None = None  # GROUP_COLUMN: a column name, "none" (no detection), None (detect)
    decimal: str = "."  # how the file writes numbers (load.py detects it)


@dataclass
class Decision:
    """One row of the column decisions table."""

    column: str
    kind: str  # numeric, categorical, date, id, text, constant, dropped
    why: str
    done: str = "-"
    used: bool = False
    details: dict = field(default_factory=dict)  # what the schema and pipeline need

    def as_dict(self) -> dict:
        return {
            "column": self.column,
            "kind": self.kind,
            "why": self.why,
            "done": self.done,
            "used": self.used,
        }


def is_missing_text(values: pd.Series) -> pd.Series:
    """NaN, or text that people type for "no value"."""
    if pd.api.types.is_numeric_dtype(values):
        return values.isna()
    markers = [v for v in pd.unique(values.dropna()) if str(v).strip().lower() in MISSING_MARKERS]
    return values.isna() | values.isin(markers)


def parse_numbers(values: pd.Series, decimal: str = ".") -> pd.Series:
    """Numbers, also where written as text; NaN where a value is not a number."""
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(float("nan"), index=values.index)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    distinct = pd.Series(pd.unique(values.dropna()), dtype=object)  # parse each value once
    numbers = numbers_in_text(distinct.astype("string"), decimal)
    return values.map(dict(zip(distinct, numbers, strict=True))).astype("float64")


def numbers_in_text(text: pd.Series, decimal: str = ".") -> pd.Series:
    """'$1,200', ' 3.5 ', '45%' -> numbers; with decimal=",": '45.627,67' -> 45627.67. The
    grammar is values.number_grammar: the service reads a request's text with it too."""
    numbers = [number_in_text(v, decimal) if isinstance(v, str) else float("nan") for v in text]
    return pd.Series(numbers, index=text.index, dtype="float64")


def percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def examples(values: pd.Series, count: int = 3) -> str:
    return ", ".join(repr(v) for v in pd.unique(values)[:count])


def check_width(frame: pd.DataFrame, target: str, options: Options, source: str) -> None:
    """Refuse a table too wide to train in minutes, before any work starts."""
    names = [c for c in frame.columns if c != target and c not in options.drop]
    if options.features:
        names = [c for c in names if c in options.features]
    if len(names) > options.max_columns:
        raise DataError(
            f"{source} has {len(names):,} feature columns for {len(frame):,} rows: more than "
            f"MAX_COLUMNS={options.max_columns:,}. Training would take a long time, and so many "
            "columns on so few rows mostly teach a model noise. Choose the columns to use with "
            'FEATURE_COLUMNS=\'["a", "b"]\' (or DROP_COLUMNS) in .env, or raise MAX_COLUMNS.'
        )


def decide_columns(
    frame: pd.DataFrame, target: str, options: Options
) -> tuple[list[Decision], pd.DataFrame]:
    """A decision for every column but the target, and the feature columns ready to train on."""
    check_group_setting(frame, target, options)
    decisions, features = [], {}
    for name in frame.columns:
        if name == target:
            continue
        decision, values = decide_column(str(name), frame[name], options)
        if decision.kind == "group" and options.group is None:
            options = replace(options, group="none")  # one group column: the first found
        decisions.append(decision)
        if decision.used:
            features[name] = values
    if not features:
        raise DataError(
            "No feature columns are left: every column was left out (see the reasons above: "
            "IDs, dates, free text, empty or constant columns). Check the file, or name the "
            "columns to use in FEATURE_COLUMNS."
        )
    return decisions, pd.DataFrame(features, index=frame.index)


def check_group_setting(frame: pd.DataFrame, target: str, options: Options) -> None:
    if options.group in (None, "none") or (
        options.group in frame.columns and options.group != target
    ):
        return
    why = "is the target" if options.group == target else "is not a column of the file"
    raise DataError(
        f"GROUP_COLUMN={options.group} {why}. Name the column whose values identify the "
        "entity each row belongs to (a customer, a storm), or remove GROUP_COLUMN from .env "
        "(GROUP_COLUMN=none turns group detection off)."
    )


def decide_column(name: str, values: pd.Series, options: Options) -> tuple[Decision, pd.Series]:
    if name in options.drop:
        return Decision(name, "dropped", "listed in DROP_COLUMNS"), values
    missing = is_missing_text(values)
    present = values[~missing]
    if name == options.group:  # a group is no feature: FEATURE_COLUMNS need not list it
        return group(name, present, "listed in GROUP_COLUMN"), values
    if options.features and name not in options.features:
        return Decision(name, "dropped", "not listed in FEATURE_COLUMNS"), values
    if present.empty:
        return Decision(name, "dropped", "entirely missing"), values
    if name in options.categorical:
        refuse_categorical_date(name, present)
        return categorical(name, values, missing, options, "listed in CATEGORICAL_COLUMNS")
    numbers = parse_numbers(values, options.decimal).mask(missing)
    infinite = numbers.abs() == float("inf")
    is_number = numbers.notna()[~missing]
    with_units = None if is_number.all() else read_units(values, missing, options.decimal)
    if name in options.numeric:
        return forced_numeric(name, values, numbers, infinite, missing, with_units)
    unique = pd.Series(pd.unique(present))
    distinct = unique.nunique() if is_number.all() else unique.map(normalise_category).nunique()
    if distinct == 1:
        return Decision(
            name, "constant", f"the same value on every row ({present.iloc[0]!r})"
        ), values
    if is_number.all():
        return numbers_only(name, values, numbers, infinite, missing, options)
    if isinstance(with_units, Units):
        if with_units.text_share <= JUNK_TOLERANCE:
            return unit_numeric(name, values, missing, with_units, "numbers with units")
        # Numbers with units among words ("2.1 kg", "ask seller"): the words decide, as
        # they do among plain numbers (numbers_and_text), instead of leaving it as text.
        numbers = unit_numbers(values, missing, with_units)
        infinite, is_number = numbers.abs() == float("inf"), numbers.notna()[~missing]
    if is_number.any():
        decision, cleaned = numbers_and_text(
            name, values, numbers, infinite, missing, distinct, options
        )
    else:
        decision, cleaned = text(name, values, missing, distinct, options)
    if isinstance(with_units, str):  # it looked like numbers with units, but was not: say why not
        decision.why += f"; not read as numbers with units: {with_units}"
    return decision, cleaned


def refuse_categorical_date(name: str, present: pd.Series) -> None:
    date_format = find_date_format(present.astype(str).str.strip())
    if date_format:
        raise DataError(
            f"CATEGORICAL_COLUMNS names {name!r}, but it holds dates (written as {date_format}): "
            "as categories, a date never seen in training would mean nothing. Remove it from "
            "CATEGORICAL_COLUMNS (dates become year, month and day features), or list it in "
            "DROP_COLUMNS."
        )


def forced_numeric(name, values, numbers, infinite, missing, with_units):
    why = "listed in NUMERIC_COLUMNS"
    if isinstance(with_units, Units):
        decision, cleaned = unit_numeric(name, values, missing, with_units, why)
    else:
        decision, cleaned = numeric(name, values, numbers, infinite, missing, why)
    present = ~missing
    lost = cleaned[present].isna().mean()
    if lost > FORCED_MISSING_LIMIT:
        text_values = values[present & cleaned.isna()]
        raise DataError(
            f"NUMERIC_COLUMNS names {name!r}, but {percent(lost)} of its values are not numbers "
            f"(e.g. {examples(text_values)}) and would become missing. Remove it from "
            f"NUMERIC_COLUMNS (its values are decided by the rules), or fix the values in the file."
        )
    return decision, cleaned


@dataclass
class Units:
    """A column of numbers with units of one quantity, read in its most common unit."""

    unit: str  # the most common one, as the table writes it: "MB"
    factors: dict[str, float]  # every spelling of the quantity's units -> factor to `unit`
    converted: list[str]  # examples of values written in another unit
    bare: list[str]  # examples of numbers written without a unit
    lookup: dict  # each distinct value as written -> its number in `unit`
    text_share: float = 0.0  # the share of values that are words, not numbers (junk)


def read_units(values: pd.Series, missing: pd.Series, decimal: str) -> "Units | str | None":
    """Units for a column of numbers with units ("8GB", "8 gb", '17"'); a reason why not when
    it looks like one but cannot be read (unknown or conflicting units); None otherwise."""
    counts = values[~missing].astype(str).str.strip().value_counts()
    if counts.empty:
        return None
    parts = counts.index.to_series().str.extract(unit_table.NUMBER_WITH_SUFFIX.pattern)
    if parts[1].isna().all():  # the cheap test first: URLs and dates have no number-then-word
        return None
    unit = parts[1].map(lambda u: unit_table.canonical(u) or u, na_action="ignore")
    amount = numbers_in_text(parts[0].astype("string"), decimal)
    has_unit = amount.notna() & unit.notna()
    if not has_unit.any():
        return None
    bare = numbers_in_text(counts.index.to_series().astype("string"), decimal)
    rows = counts.to_numpy()
    quantity = unit.map(unit_table.quantity, na_action="ignore")
    if (rows * (has_unit | bare.notna())).sum() < AMBIGUOUS_FROM * rows.sum():
        return None  # mostly other text: not a column of measurements
    # The main quantity is the one on most rows; a few (at most 5%) values in an unknown unit
    # or another quantity ("8 GB" in a column of MHz: a scraper's shifted cell) are junk.
    main = pd.Series(rows, index=quantity.to_numpy())[has_unit.to_numpy()].groupby(level=0).sum()
    other = has_unit & (quantity != main.idxmax()) if len(main) else has_unit
    if (rows * other).sum() > JUNK_TOLERANCE * rows.sum():
        unknown = sorted(set(parts[1][has_unit & quantity.isna()]))
        if unknown:
            return f"unknown unit(s) {', '.join(map(repr, unknown[:3]))}"
        return f"units of different quantities ({', '.join(sorted(main.index))})"
    has_unit &= ~other
    if not has_unit.any():
        return None  # numbers, and a few words: the rules below read them
    text_share = 1 - (rows * (has_unit | bare.notna())).sum() / rows.sum()
    return replace(column_units(counts, unit, bare, has_unit, decimal), text_share=text_share)


def column_units(counts, unit, bare, has_unit, decimal: str) -> Units:
    """The column's most common unit, and every value converted to it, by the reader the
    service uses for a request's text (values.number_reader, with schema.json's factors)."""
    main = pd.Series(counts.to_numpy(), index=unit.to_numpy())[has_unit.to_numpy()]
    main = main.groupby(level=0).sum().idxmax()
    factors = unit_table.factors_to(main)
    read = number_reader(decimal, tuple(factors.items()))
    lookup = {value: read(value) for value in counts.index}
    other = counts.index[(has_unit & (unit != main)).to_numpy()]
    plain = counts.index[(~has_unit & bare.notna()).to_numpy()]
    return Units(main, factors, list(other[:3]), list(plain[:3]), lookup)


def unit_numbers(values: pd.Series, missing: pd.Series, units: Units) -> pd.Series:
    return values.astype(str).str.strip().map(units.lookup).astype("float64").mask(missing)


def unit_numeric(name, values, missing, units: Units, why):
    numbers = unit_numbers(values, missing, units)
    infinite = numbers.abs() == float("inf")
    read = [f"unit {units.unit!r}"]
    if units.converted:
        read[0] += f" ({', '.join(map(repr, units.converted))} converted)"
    if units.bare:
        read.append(
            f"numbers without a unit ({', '.join(map(repr, units.bare))}) read as {units.unit!r}"
        )
    decision, cleaned = numeric(name, values, numbers, infinite, missing, why, "; ".join(read))
    decision.details |= {"unit": units.unit, "unit_factors": units.factors}
    return decision, cleaned


def numeric_id_reason(name: str, finite: pd.Series) -> str | None:
    """Why whole numbers, a different one on every row, are an ID (None: they are not)."""
    unique = finite.nunique() == len(finite) >= MIN_ROWS_FOR_UNIQUENESS
    whole = bool((finite % 1 == 0).all())
    consecutive = len(finite) and finite.max() - finite.min() < 2 * len(finite)
    if not (whole and unique and (ID_NAME.search(name.strip()) or consecutive)):
        return None
    why = "ID name" if ID_NAME.search(name.strip()) else "a run of consecutive numbers"
    return f"whole numbers, a different one on every row; {why}"


def numbers_only(name, values, numbers, infinite, missing, options) -> tuple[Decision, pd.Series]:
    reason = numeric_id_reason(name, numbers[~infinite].dropna())
    if reason:
        return Decision(name, "id", reason), values
    finite = numbers[~infinite].dropna()
    whole = bool((finite % 1 == 0).all())
    # customer_id 1001 on five rows, then 1002: a group, not an amount (only when named so)
    if whole and ID_NAME.search(name.strip()):
        decision = repeated_id(name, values[~missing], options)
        if decision:
            return decision, values
    return numeric(name, values, numbers, infinite, missing, "numbers")


def repeated_id(name: str, present: pd.Series, options: Options) -> Decision | None:
    """An ID-named column of whole numbers whose values repeat: a group, or at least no amount.

    Entities in runs (a customer on five rows) are a group by group_reason's rule. A listing
    scraped twice, its ID on one or two rows, is one entity too: named an ID, more distinct
    values than categories allow and mostly distinct, it is a group as well (its rows on one
    side of every split); with group detection off or another group, it is left out as an ID.
    """
    counts = present.value_counts()
    if options.group is None and (reason := group_reason(present, options)):
        return group(name, present, f"ID name; {reason}")
    distinct_share = len(counts) / len(present) if len(present) else 0.0
    if len(counts) <= options.max_categories or distinct_share < REPEATED_ID_SHARE:
        return None
    repeated = int((counts > 1).sum())
    why = (
        f"ID name; {len(counts):,} distinct whole numbers on {len(present):,} rows, "
        f"{repeated:,} of them on more than one row"
    )
    if options.group is None:
        return group(name, present, f"{why}: each identifies one entity (a listing scraped twice)")
    return Decision(name, "id", f"{why}: an identifier, not an amount")


def numbers_and_text(name, values, numbers, infinite, missing, distinct, options):
    present = values[~missing]
    text_values = present[numbers[~missing].isna()]
    text_share = len(text_values) / len(present)
    if distinct <= FEW_VALUES:
        why = f"numbers and words, {distinct} distinct values (such as {examples(text_values, 2)})"
        return categorical(name, values, missing, options, why)
    if text_share <= JUNK_TOLERANCE:
        return numeric(name, values, numbers, infinite, missing, "numbers, with a few text values")
    if text_share <= 1 - AMBIGUOUS_FROM:
        raise DataError(
            f"Column {name!r} is neither clearly numeric nor a category: {percent(text_share)} of its "
            f"values are text (e.g. {examples(text_values)}) among {distinct:,} distinct values. "
            f"Fix those values in the file, or choose one of: NUMERIC_COLUMNS='[\"{name}\"]' "
            f"(the text becomes missing) or DROP_COLUMNS='[\"{name}\"]' (leave the column out)."
        )
    return text(name, values, missing, distinct, options)


def numeric(name, values, numbers, infinite, missing, why, read="") -> tuple[Decision, pd.Series]:
    present = values[~missing]
    junk = present[numbers[~missing].isna()]
    done = [read]
    if not read and not pd.api.types.is_numeric_dtype(values):
        plain = pd.to_numeric(present, errors="coerce")  # what a plain number reader gets
        written = present[plain.isna() & numbers[~missing].notna()]
        if len(written):
            done.append(f"{len(written):,} numbers written as text read ({examples(written)})")
    if len(junk):
        done.append(f"{len(junk):,} text values made missing ({examples(junk)})")
    if infinite.any():
        done.append(f"{int(infinite.sum()):,} infinite values made missing")
    cleaned = numbers.mask(infinite)
    if cleaned.isna().any():
        done.append(f"{percent(cleaned.isna().mean())} missing")
    details = {"junk": int(len(junk)), "infinite": int(infinite.sum())}
    summary = "; ".join(d for d in done if d) or "-"
    return Decision(name, "numeric", why, summary, True, details), cleaned


def categorical(name, values, missing, options, why) -> tuple[Decision, pd.Series]:
    rule = normalise_category if options.normalise_categories else category_text
    present = values[~missing]
    spelled = pd.Series({v: rule(v) for v in pd.unique(present)}, dtype=object)
    categories = sorted(set(spelled))
    merged = {
        norm: sorted(category_text(v) for v in group.index)
        for norm, group in spelled.groupby(spelled)
        if len(group) > 1
    }
    cleaned = values.mask(missing).astype(object)
    if len(categories) > options.max_categories:
        return high_cardinality(name, values, len(categories), options)
    done = [f"{len(categories)} categories"]
    if merged:
        shown = "; ".join(
            f"{' / '.join(map(repr, v))} -> {k!r}" for k, v in list(merged.items())[:3]
        )
        done.append(f"{sum(map(len, merged.values())):,} spellings merged ({shown})")
    if missing.any():
        done.append(f"{percent(missing.mean())} missing")
    details = {
        "categories": categories,
        "merged": merged,
        "normalise": options.normalise_categories,
    }
    return Decision(name, "categorical", why, "; ".join(done), True, details), cleaned


def high_cardinality(name, values, distinct, options) -> tuple[Decision, pd.Series]:
    why = (
        f"{distinct:,} distinct values, more than MAX_CATEGORIES={options.max_categories}: "
        "one-hot encoding would make a column per value"
    )
    return Decision(name, "dropped", why), values


def text(name, values, missing, distinct, options) -> tuple[Decision, pd.Series]:
    present = values[~missing].astype(str).str.strip()
    date_format = find_date_format(present)
    if date_format:
        return date(name, values, missing, date_format, options)
    unique_share = present.nunique() / len(present)
    if ID_NAME.search(name.strip()) and unique_share > ID_UNIQUE_SHARE:
        return Decision(name, "id", "ID name and a different value on (nearly) every row"), values
    urls = present.str.match(URL, case=False).mean()
    if urls >= URL_SHARE:
        why = f"web addresses (URLs): {percent(urls)} of the values"
        return Decision(name, "url", why, "left out: an address is no feature"), values
    reason = group_reason(present, options) if options.group is None else None
    if reason:
        return group(name, present, reason), values
    many = distinct > options.max_categories or distinct > len(present) / 2
    if many and (
        present.str.len().mean() >= FREE_TEXT_CHARACTERS
        or present.str.split().str.len().mean() >= FREE_TEXT_WORDS
    ):
        why = f"free text ({distinct:,} distinct values, {present.str.len().mean():.0f} characters on average)"
        return Decision(
            name, "text", why, "left out: add a text model in model/pipeline.py"
        ), values
    if unique_share == 1 and len(present) >= MIN_ROWS_FOR_UNIQUENESS:
        return Decision(name, "id", "a different text value on every row"), values
    if distinct > 10 and distinct > len(present) / 2:
        why = f"{distinct:,} distinct values in {len(present):,} rows: too many for categories"
        return Decision(name, "dropped", why), values
    return categorical(name, values, missing, options, "text with few distinct values")


def group_reason(present: pd.Series, options: Options) -> str | None:
    """Why the values identify entities over several rows (None: they do not). Conservative:
    more distinct values than categories allow, each on several rows, mostly in runs."""
    counts = present.value_counts()
    if len(counts) <= options.max_categories or counts.median() < GROUP_MIN_ROWS:
        return None
    runs = int((present != present.shift()).sum())
    if runs > GROUP_RUNS * len(counts) and len(present) / runs < GROUP_MIN_ROWS:
        return None  # scattered: runs of one or two rows
    return (
        f"{len(counts):,} distinct values, {counts.median():.0f} rows each (median), in runs of "
        f"{len(present) / runs:.0f} consecutive rows on average: each identifies one entity (a "
        "customer, a storm) over several rows"
    )


def group(name: str, present: pd.Series, why: str) -> Decision:
    """Left out as a feature; the splits keep each group's rows on one side (model/evaluate.py)."""
    done = (
        f"left out; {present.nunique():,} groups, each kept on one side of every split "
        "(test split and cross-validation)"
    )
    return Decision(name, "group", why, done, details={"groups": int(present.nunique())})


def find_date_format(present: pd.Series) -> str | None:
    """The strftime format most values are written in, if at least 90% read as dates in it."""
    sample = present.head(200)
    with warnings.catch_warnings():  # pandas warns when dayfirst does not fit a guess
        warnings.simplefilter("ignore")
        guesses = {
            guess_datetime_format(v, dayfirst=first)
            for v in sample.head(5)
            for first in (False, True)
        }
    # A date has a year and a month: "Jan" alone or "10:30" are not dates.
    formats = [f for f in guesses if f and re.search("%[Yy]", f) and re.search("%[mbB]", f)]
    best, best_share = None, 0.0
    for candidate in sorted(formats):
        # Read as training and serving read dates (strptime): pandas' reader refuses
        # timestamps in several zones ("Z" beside "-05:00") with an error, not a share.
        share = sample.map(lambda v, f=candidate: days_since_epoch(v, f)).notna().mean()
        if share > best_share:
            best, best_share = candidate, share
    return best if best_share >= DATE_SHARE else None


def date(name, values, missing, date_format, options) -> tuple[Decision, pd.Series]:
    present = values[~missing]
    lookup = {v: days_since_epoch(v, date_format) for v in pd.unique(present)}
    days = present.map(lookup)
    unreadable = int(days.isna().sum())
    why = f"dates written as {date_format}"
    if options.dates == "drop":
        return Decision(name, "date", why, "left out (DATE_COLUMNS=drop)"), values
    first, last = (
        pd.Timestamp("1970-01-01") + pd.Timedelta(days=d) for d in (days.min(), days.max())
    )
    done = f"year, month, day of week, days since {first:%Y-%m-%d} (to {last:%Y-%m-%d})"
    if unreadable:
        done += f"; {unreadable:,} unreadable dates made missing ({examples(present[days.isna()])})"
    details = {
        "date_format": date_format,
        "reference_days": float(days.min()),
        "earliest": f"{first:%Y-%m-%d}",
        "latest": f"{last:%Y-%m-%d}",
    }
    cleaned = values.mask(missing).astype(object)
    return Decision(name, "date", why, done, True, details), cleaned


def check_named_columns(frame: pd.DataFrame, options: Options, source: str) -> None:
    """A column setting naming a column the file lacks is a typo, never ignored: a misspelt
    DROP_COLUMNS entry would keep a leak in the model without a word."""
    settings = {
        "CATEGORICAL_COLUMNS": options.categorical,
        "NUMERIC_COLUMNS": options.numeric,
        "DROP_COLUMNS": options.drop,
        "FEATURE_COLUMNS": options.features,
    }
    for setting, names in settings.items():
        unknown = [name for name in names if name not in frame.columns]
        if unknown:
            columns = ", ".join(repr(c) for c in frame.columns)
            raise DataError(
                f"{setting} names {', '.join(map(repr, unknown))}, which {source} does not have "
                f"(names match exactly). Its columns are: {columns}. Fix {setting} in .env."
            )


def check_target(frame: pd.DataFrame, target: str, source: str) -> None:
    if target not in frame.columns:
        columns = ", ".join(repr(c) for c in frame.columns)
        raise DataError(
            f"Target column {target!r} is not in {source}. Its columns are: {columns}. "
            "Pass one of them: make train TARGET=<column>."
        )
    values = frame[target]
    if is_missing_text(values).all():
        raise DataError(
            f"Target column {target!r} is entirely missing. Choose a column with values."
        )
    present = values[~is_missing_text(values)].astype(str).str.strip()
    numbers = parse_numbers(values)
    if numbers.notna().mean() >= AMBIGUOUS_FROM:
        if numeric_id_reason(target, numbers.dropna()):
            raise DataError(
                f"Target column {target!r} looks like an ID (whole numbers, a different one on "
                "every row), so there is nothing to learn. Choose the column you want to predict."
            )
        return
    if find_date_format(present):
        raise DataError(
            f"Target column {target!r} holds dates: a date is no outcome to predict. Choose the "
            "column you want to predict (dates can be features)."
        )
    if present.nunique() == len(present) >= MIN_ROWS_FOR_UNIQUENESS:
        raise DataError(
            f"Target column {target!r} has a different text value on every row (an ID or free "
            "text), so there is nothing to learn. Choose the column you want to predict."
        )


def decide_target(
    values: pd.Series, target: str, task: str | None, decimal: str = "."
) -> tuple[pd.Series, str, str, dict]:
    """(labels with NaN where a row has no usable target, task, why this task, the spellings
    of each class merged into one: {label: [spellings]})."""
    missing = is_missing_text(values)
    numbers = parse_numbers(values, decimal).mask(missing)
    numbers = numbers.mask(numbers.abs() == float("inf"))
    present = values[~missing]
    is_number = numbers.notna()[~missing]
    finite = numbers.dropna()
    whole = bool((finite % 1 == 0).all())
    if task == "regression" or (
        task is None and AMBIGUOUS_FROM <= is_number.mean() < 1 and finite.nunique() > MAX_CLASSES
    ):
        if not is_number.all():
            text = present[~is_number]
            raise DataError(
                f"Target {target!r} must be numbers for regression, but {percent(len(text) / len(present))} "
                f"of its values are text (e.g. {examples(text)}). Fix or blank those values in the "
                "file (rows without a target are dropped), or set TASK=classification if they are labels."
            )
        return numbers, "regression", regression_reason(finite, task), {}
    if is_number.all():
        if task == "classification" and not whole:
            raise DataError(
                f"TASK=classification, but target {target!r} holds fractional numbers (e.g. "
                f"{examples(finite[finite % 1 != 0])}), which are not class labels. Set "
                "TASK=regression, or write the classes as whole numbers or words in the file."
            )
        if task == "classification" or (whole and is_class_label(finite)):
            why = f"classification: {finite.nunique()} distinct whole-number values"
            return (
                numbers.astype("Int64"),
                "classification",
                why + ("" if task is None else " (TASK)"),
                {},
            )
        return numbers, "regression", regression_reason(finite, task), {}
    labels, merged = one_spelling_per_class(values, missing)
    why = f"classification: text labels, {labels.nunique()} classes"
    if merged:
        why += f" ({sum(map(len, merged.values())):,} spellings merged)"
    return labels, "classification", why + ("" if task is None else " (TASK)"), merged


def one_spelling_per_class(values: pd.Series, missing: pd.Series) -> tuple[pd.Series, dict]:
    """'Oui', 'oui', 'OUI', ' Oui' are one class, as categories are (values.normalise_category),
    answered in its most frequent spelling. Returns (labels, {label: [spellings merged]})."""
    written = values[~missing].map(category_text)
    normalised = written.map(normalise_category)
    counts = pd.DataFrame({"class": normalised, "written": written.str.strip()}).value_counts()
    spelling: dict = {}
    for (name, spelled), _ in counts.items():  # most frequent first
        spelling.setdefault(name, spelled)
    variants = pd.Series(written.to_numpy()).groupby(normalised.to_numpy()).unique()
    merged = {spelling[k]: sorted(v) for k, v in variants.items() if len(v) > 1}
    labels = values.mask(missing).astype(object)
    labels[~missing] = normalised.map(spelling)
    return labels, merged


def is_class_label(finite: pd.Series) -> bool:
    """Few whole numbers that repeat (0/1, 1-5 stars) are classes; 15 rents on 15 rows are not."""
    return finite.nunique() <= MAX_CLASSES and finite.nunique() <= len(finite) / 2


def regression_reason(finite: pd.Series, task: str | None) -> str:
    if task:
        return "regression (TASK)"
    if (finite % 1 == 0).all() and finite.nunique() <= MAX_CLASSES:
        return f"regression: {finite.nunique():,} distinct whole numbers on {len(finite):,} rows (too few repeats to be classes)"
    if (finite % 1 == 0).all():
        return f"regression: {finite.nunique():,} distinct whole numbers (more than {MAX_CLASSES})"
    return f"regression: {finite.nunique():,} distinct numeric values"
