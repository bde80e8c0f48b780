"""Value rules that training and serving must apply identically, in plain Python.

Serving may run without pandas or scikit-learn (the ONNX-only image), so these
functions use only the standard library. The pipeline's steps (transformers.py)
and the ONNX inputs (onnx_inputs.py) both call them: a request is normalised
exactly as the training rows were.
"""

import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from functools import cache, lru_cache, partial

EPOCH = date(1970, 1, 1)
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
