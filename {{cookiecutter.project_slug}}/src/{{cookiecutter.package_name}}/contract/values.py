"""Value rules that training and serving must apply identically, in plain Python.

Serving may run without pandas or scikit-learn (the ONNX-only image), so these
functions use only the standard library. The pipeline's steps (contract/transformers.py)
and the ONNX inputs (contract/onnx_inputs.py) both call them: a request is normalised
exactly as the training rows were. Numbers written as text ("1,234", "$1,499.00",
"45%", "27.602,23", "0.73 GB") are read by one grammar (`number_grammar`): training
reads the file's cells with it (data/decisions.py), and the service checks and reads a
request's text with the same one (serve/schemas.py; its /openapi.json shows it).
"""

import math
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from functools import cache, lru_cache, partial

EPOCH = date(1970, 1, 1)
# Text that people type for "no value" (compared stripped and lower-cased).
MISSING_MARKERS = frozenset({"", "n/a", "na", "-", "--", "?", "null", "nan", "#div/0!", "#n/a"})
# What may stand between the parts of a written number: spaces, tabs and the no-break
# spaces of French exports. Written out (not \s): the grammar must mean the same to
# Python, to the service's validator (Rust) and to JSON Schema (ECMA) readers.
SPACE = "[ \t\u00a0\u202f]"
CURRENCY_SYMBOLS, CURRENCY_CODES = "[$€£¥]", "(?:USD|EUR|GBP)"
# Categories and dates repeat: normalising a category (NFKC, case folding) or parsing a
# date (strptime) costs ten to thirty times a cache lookup. Bounded, so requests full of
# new values cannot grow memory.
VALUE_CACHE_SIZE = 4096


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def category_text(value) -> str:
    """The text of a category: whole numbers lose their ".0" (2, 2.0 and "2" are one value)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def normalise_category(value) -> str | None:
    """' DOWNTOWN ', 'Downtown' and 'downtown' are one category: Unicode NFKC (full-width
    and composed characters unified), surrounding and repeated spaces removed, case folded.
    Returns None for a missing or blank value."""
    if is_missing(value):
        return None
    text = " ".join(unicodedata.normalize("NFKC", category_text(value)).split()).casefold()
    return text or None


def days_since_epoch(value, date_format: str) -> float:
    """Days from 1970-01-01 to the date in `value` (written as `date_format`); NaN if unreadable."""
    if is_missing(value):
        return float("nan")
    try:
        parsed = datetime.strptime(str(value).strip(), date_format)
    except ValueError:
        return float("nan")
    return float((parsed.date() - EPOCH).days)


def remembered(rule: Callable) -> Callable:
    """`rule` with a bounded cache of its answers, for values that repeat (requests).
    typed: True and 1 are equal keys to a plain cache, but not the same category.
    Values must be hashable: what the service validated, or a pandas column's cells."""
    return lru_cache(maxsize=VALUE_CACHE_SIZE, typed=True)(rule)


@cache  # one reader (and so one cache) per format, shared by every caller
def date_reader(date_format: str) -> Callable[[object], float]:
    """value -> days since 1970-01-01 (NaN if unreadable), remembered: the request's
    validation, the ONNX inputs and the live drift window parse each date once."""
    return remembered(partial(days_since_epoch, date_format=date_format))


@cache
def category_reader(normalise: bool) -> Callable[[object], str | None]:
    """value -> the category training saw (normalised, or only as text), remembered."""
    return remembered(normalise_category if normalise else category_text)


def any_case(word: str) -> str:
    """A regex for `word` in any case ("gb" -> "[gG][bB]"), without flags, which JSON Schema
    patterns cannot carry. Only "?" of our words is special to a regex."""
    return "".join(
        f"[{c.lower()}{c.upper()}]" if c.lower() != c.upper() else ("\\?" if c == "?" else c)
        for c in word
    )


# Thousands written with a space, as French and SI style write them ("56 249,70"; Excel
# uses the no-break spaces): between digit groups, in either kind of file.
SPACE_THOUSANDS = " \u00a0\u202f"


def digits(decimal: str) -> str:
    """Digits with the file's thousands separators and decimal mark: "1,234.5" (decimal
    "."), "1.234,5" and "1 234,5" (decimal ","), ".5". Groups after the first have exactly
    three digits, and one number keeps one separator ("1,234 567" is no number)."""
    mark, point = (",", "\\.") if decimal == "." else ("\\.", ",")
    spaces = f"[{SPACE_THOUSANDS}]"
    three = "[0-9]" * 3  # a count in an f-string needs doubled braces: the template would eat them
    groups = f"(?:(?:{mark}{three})*|(?:{spaces}{three})*)"
    return f"(?:[0-9]+{groups}(?:{point}[0-9]*)?|{point}[0-9]+)"


@cache
def number_grammar(
    decimal: str = ".", units: tuple[str, ...] = (), infinite: bool = True, missing: bool = False
) -> str:
    """The regex of a number written as text, with capture groups (1: sign, 2: the number)
    and, where `units` are given (a column read with units), (3: sign, 4: number, 5: unit).

    A number: an optional currency before or after ("$1,499.00", "1999 USD", "12 €"), a
    sign, digits (see `digits`), an exponent of at most two digits ("1.5E+03"), a percent
    sign ("45%" is 45). `infinite`: also "inf", "-Infinity" (training reads them, then makes
    them missing). With `units`: a number and one of them, in any case ("8 GB", "8gb").
    `missing`: also a missing marker ("N/A", "--", blank). Spaces around it are allowed."""
    number = digits(decimal) + "(?:[eE][-+]?[0-9]{1,2})?"
    if infinite:
        number = f"(?:{number}|{any_case('inf')}(?:{any_case('inity')})?)"
    before = f"(?:{CURRENCY_SYMBOLS}{SPACE}*|{CURRENCY_CODES}{SPACE}+)?"
    after = f"(?:{SPACE}*%)?(?:{SPACE}*{CURRENCY_SYMBOLS}|{SPACE}+{CURRENCY_CODES})?"
    choices = [f"{before}([-+]?)({number}){after}"]
    if units:
        spelled = "|".join(any_case(unit) for unit in sorted(units, key=len, reverse=True))
        choices.append(f"([-+]?)({digits(decimal)}){SPACE}*({spelled})")
    if missing:
        markers = sorted(MISSING_MARKERS - {""}, key=len, reverse=True)
        choices.append("(?:" + "|".join(any_case(marker) for marker in markers) + ")?")
    return f"{SPACE}*(?:{'|'.join(choices)}){SPACE}*"


def as_float(sign: str, written: str, decimal: str) -> float:
    """("-", "1.234,5", decimal ",") -> -1234.5: separators go, the decimal mark becomes "."."""
    for space in SPACE_THOUSANDS:
        written = written.replace(space, "")
    if decimal == ",":
        written = written.replace(".", "").replace(",", ".")
    else:
        written = written.replace(",", "")
    return float(sign + written)


def read_number(
    text: str, grammar: re.Pattern, decimal: str, factors: dict[str, float]
) -> float | None:
    """The number `text` writes, in the column's unit: None for a missing marker, NaN where
    `text` is no number the grammar reads (infinite where it says so, or overflows)."""
    match = grammar.fullmatch(text)
    if match is None:
        return float("nan")
    sign, number, unit_sign, with_unit, unit = (match.groups() + (None,) * 3)[:5]
    if number is not None:
        return as_float(sign, number, decimal)
    if with_unit is not None:
        return as_float(unit_sign, with_unit, decimal) * factors[unit.casefold()]
    return None  # a missing marker


@cache  # one reader (and so one grammar) per way of writing numbers, shared by all callers
def number_reader(
    decimal: str = ".", factors: tuple[tuple[str, float], ...] = ()
) -> Callable[[str], float | None]:
    """text -> its number (see read_number), for a file with `decimal` and a column read in
    a unit: `factors` are (spelling, how many of the column's unit one is), as schema.json's
    `unit_factors`. Training reads every cell with it; serving, a request's text."""
    units = dict(factors)
    grammar = re.compile(number_grammar(decimal, tuple(units), missing=True))
    return partial(read_number, grammar=grammar, decimal=decimal, factors=units)


def number_in_text(text: str, decimal: str = ".") -> float:
    """'$1,200', ' 3.5 ', '45%' -> numbers; with decimal=",": '45.627,67' -> 45627.67;
    NaN where the text is no number (missing markers included)."""
    number = number_reader(decimal)(text)
    return float("nan") if number is None else number


def is_finite(number: float | None) -> bool:
    return number is not None and math.isfinite(number)
