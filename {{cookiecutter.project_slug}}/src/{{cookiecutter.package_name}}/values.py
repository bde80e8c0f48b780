"""Value rules that training and serving must apply identically, in plain Python.

Serving may run without pandas or scikit-learn (the ONNX-only image), so these
functions use only the standard library. The pipeline's steps (transformers.py)
and the ONNX inputs (onnx_inputs.py) both call them: a request is normalised
exactly as the training rows were.
"""

import unicodedata
from datetime import date, datetime

EPOCH = date(1970, 1, 1)


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
