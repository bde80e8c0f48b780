"""A fetched page -> its records (a DataFrame) and the link to the next page.

CSV and Excel are read as they are; a JSON API's list of records (or a list under a key)
is flattened (nested `{"a": {"b": 1}}` becomes a column `a.b`); an HTML page's table is
read with pandas' `read_html`, chosen by its index or a text in its header.
"""

import io
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import pandas as pd

from .errors import CollectError
from .fetch import Fetched
from .source import Source

# Where APIs put the address of the next page in the body, most common first.
NEXT_KEYS = (
    "next",
    "next_url",
    "nextPage",
    "links.next",
    "_links.next",
    "paging.next",
    "pagination.next",
    "meta.next",
)
PASSWORD_FIELD = re.compile(rb"<input[^>]+type\s*=\s*[\"']?password", re.I)
LOGIN_PATH = re.compile(r"/(log-?in|sign-?in|auth)\b", re.I)


@dataclass
class Page:
    records: pd.DataFrame
    next_url: str | None = None
    notes: list[str] = field(default_factory=list)  # what was chosen, said once


def detect_kind(fetched: Fetched) -> str:
    """From the Content-Type, then the address, then the first bytes."""
    content_type = fetched.content_type.lower()
    path = urlsplit(fetched.url).path.lower()
    head = fetched.body.lstrip()[:1]
    if "json" in content_type:
        return "json"
    if "html" in content_type:
        return "html"
    if "csv" in content_type or path.endswith(".csv"):
        return "csv"
    if "spreadsheet" in content_type or "excel" in content_type or path.endswith(".xlsx"):
        return "excel"
    if head in (b"{", b"["):
        return "json"
    if head == b"<" and b"<table" in fetched.body.lower():
        return "html"
    raise CollectError(
        f"{fetched.url} answered {fetched.content_type or 'no Content-Type'} "
        f"({len(fetched.body):,} bytes starting {fetched.body[:24]!r}): not CSV, Excel, JSON or "
        "an HTML page with a table. If it is one of them, say which with KIND=csv|excel|json|html"
    )


def parse(fetched: Fetched, source: Source, kind: str) -> Page:
    check_not_a_login_page(fetched)
    reader = {"csv": read_csv, "excel": read_excel, "json": read_json, "html": read_html}[kind]
    page = reader(fetched, source)
    if page.next_url is None and fetched.next_link:
        page.next_url = urljoin(fetched.url, fetched.next_link)
    return page


def check_not_a_login_page(fetched: Fetched) -> None:
    """A site that wants a login often answers 200 with a form, not a 401."""
    is_html = "html" in fetched.content_type.lower() or fetched.body.lstrip()[:1] == b"<"
    if is_html and (PASSWORD_FIELD.search(fetched.body) or LOGIN_PATH.search(fetched.url)):
        raise CollectError(
            f"{fetched.url} is a login page (a password form), not data: collect only what is "
            "public, or use the site's API with a key of your own"
        )


def text_of(fetched: Fetched) -> str:
    try:
        return fetched.body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return fetched.body.decode("cp1252", "replace")  # what spreadsheets on Windows write


def read_csv(fetched: Fetched, source: Source) -> Page:
    try:
        # sep=None: the delimiter (comma, semicolon, tab) is sniffed.
        frame = pd.read_csv(io.StringIO(text_of(fetched)), sep=None, engine="python")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as error:
        raise CollectError(f"{fetched.url} is not a readable CSV ({error}).") from None
    return Page(frame)


def read_excel(fetched: Fetched, source: Source) -> Page:
    sheet: int | str = int(source.table) if source.table.isdigit() else source.table or 0
    try:
        frame = pd.read_excel(io.BytesIO(fetched.body), sheet_name=sheet, engine="openpyxl")
    except ValueError as error:  # a missing sheet, or not an .xlsx file
        raise CollectError(
            f"{fetched.url} is not a readable Excel (.xlsx) file or has no sheet {sheet!r} "
            f"({error}); an old .xls file: save it as .xlsx or CSV"
        ) from None
    except Exception as error:  # openpyxl's zip and XML errors share no base class
        raise CollectError(f"{fetched.url} is not a readable .xlsx file ({error}).") from None
    return Page(frame)


def read_html(fetched: Fetched, source: Source) -> Page:
    try:
        tables = pd.read_html(io.StringIO(text_of(fetched)), flavor="lxml")
    except ValueError:  # "No tables found"
        raise CollectError(
            f"{fetched.url} is an HTML page without a <table>: not data that can be collected "
            "as it is; look for the site's API, a CSV download, or a page with a table"
        ) from None
    for table in tables:
        if isinstance(table.columns, pd.MultiIndex):  # a header of several rows
            table.columns = [" ".join(dict.fromkeys(map(str, c))) for c in table.columns]
    index = choose_table(tables, source.table, fetched.url)
    notes = []
    if len(tables) > 1:
        listed = "; ".join(
            f"{i}: {', '.join(map(str, t.columns[:4]))}" for i, t in enumerate(tables)
        )
        notes.append(
            f"the page has {len(tables)} tables ({listed}); took {index}, TABLE= picks another"
        )
    return Page(tables[index], notes=notes)


def choose_table(tables: list[pd.DataFrame], wanted: str, url: str) -> int:
    if not wanted:
        return 0
    if wanted.isdigit():
        if int(wanted) < len(tables):
            return int(wanted)
    else:
        for index, table in enumerate(tables):
            if any(wanted.lower() in str(column).lower() for column in table.columns):
                return index
    raise CollectError(
        f"{url} has no table {wanted!r} (it has {len(tables)}, numbered from 0): "
        "set TABLE to an index or a text in the wanted table's header"
    )


def dig(document, dotted: str):
    for part in dotted.split("."):
        if not isinstance(document, dict) or part not in document:
            return None
        document = document[part]
    return document


def read_json(fetched: Fetched, source: Source) -> Page:
    try:
        document = json.loads(text_of(fetched))
    except json.JSONDecodeError as error:
        raise CollectError(f"{fetched.url} is not valid JSON ({error}).") from None
    records = find_records(document, source.records_key, fetched.url)
    bad = next((r for r in records if not isinstance(r, dict)), None)
    if bad is not None:
        raise CollectError(
            f"{fetched.url} holds a list of plain values ({bad!r}, ...), not records with fields: "
            "point SOURCE at an endpoint that returns objects, or name their key with RECORDS_KEY"
        )
    frame, flattened = flatten(records)
    page = Page(frame, next_url=next_in_body(document, fetched.url))
    if flattened:
        nested = "; ".join(f"{parent} -> {', '.join(kids)}" for parent, kids in flattened.items())
        page.notes.append(f"nested fields flattened: {nested}")
    return page


def find_records(document, key: str, url: str) -> list:
    if key:
        records = dig(document, key)
        if not isinstance(records, list):
            raise CollectError(f"{url} has no list of records under RECORDS_KEY={key!r}.")
        return records
    if isinstance(document, list):
        return document
    lists = (
        {k: v for k, v in document.items() if isinstance(v, list)}
        if isinstance(document, dict)
        else {}
    )
    of_records = {k: v for k, v in lists.items() if v and isinstance(v[0], dict)}
    candidates = of_records or lists
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    keys = ", ".join(document) if isinstance(document, dict) else type(document).__name__
    if not candidates:
        raise CollectError(
            f"{url} returned JSON with no list of records (top-level keys: {keys}): point SOURCE "
            "at an endpoint that lists records, or name their key with RECORDS_KEY"
        )
    raise CollectError(
        f"{url} holds several lists ({', '.join(candidates)}): name the one with the records, "
        "e.g. RECORDS_KEY=" + next(iter(candidates))
    )


def flatten(records: list[dict]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Nested objects become `a.b` columns; lists inside a record stay JSON text."""
    frame = pd.json_normalize(records, sep=".") if records else pd.DataFrame()
    flattened: dict[str, list[str]] = {}
    for column in frame.columns:
        if "." in column:
            parent = column.split(".", 1)[0]
            if any(isinstance(r.get(parent), dict) for r in records[:50]):
                flattened.setdefault(parent, []).append(column)
    for column in frame.columns:
        values = frame[column]
        if values.dtype == "object" and values.map(lambda v: isinstance(v, list | dict)).any():
            frame[column] = frame[column].map(
                lambda v: json.dumps(v) if isinstance(v, list | dict) else v
            )
    return frame, flattened


def next_in_body(document, url: str) -> str | None:
    if not isinstance(document, dict):
        return None
    for key in NEXT_KEYS:
        value = dig(document, key)
        if isinstance(value, dict):
            value = value.get("href")
        if isinstance(value, str) and value:
            return urljoin(url, value)
    return None
