"""Collect one source page by page; an interrupted run resumes from its last page.

Each page's body is saved as it arrives, in data/collected/<name>/.partial/, with a small
state file beside it (both renamed into place): a Ctrl-C, a lost connection or a kill loses
at most the page in flight, and the next run with the same source carries on from there.
"""

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd

from .errors import CollectError
from .fetch import Fetched, PoliteClient, Robots
from .kinds import Page, detect_kind, parse
from .settings import CollectSettings
from .snapshots import Collected, atomic_write, sha256
from .source import Source


class Partial:
    """The pages of an unfinished run, on disk."""

    def __init__(self, folder: Path, source: Source):
        self.folder = folder / source.name / ".partial"
        self.state_path = self.folder / "state.json"
        self.source = source
        if self.state_path.is_file():
            self.state = json.loads(self.state_path.read_text())
            if self.state["source"] != source.fingerprint():
                raise CollectError(
                    f"{self.folder} holds an unfinished run of another source or settings "
                    f"({self.state['source']['url']}): finish it with the same SOURCE and options, "
                    "or delete that folder to start over"
                )
        else:
            self.state = {"source": source.fingerprint(), "pages": [], "next": source.url}

    @property
    def pages(self) -> list[dict]:
        return self.state["pages"]

    @property
    def resumed(self) -> int:
        return len(self.pages)

    def add(self, fetched: Fetched, kind: str, rows: int, next_url: str | None) -> None:
        number = len(self.pages) + 1
        body_file = f"page-{number:05d}.body"
        atomic_write(self.folder / body_file, fetched.body)  # the body first, then the state
        self.pages.append(
            {
                "url": fetched.url,
                "content_type": fetched.content_type,
                "kind": kind,
                "file": body_file,
                "sha256": sha256(fetched.body),
                "rows": rows,
            }
        )
        self.state["next"] = next_url
        atomic_write(self.state_path, json.dumps(self.state, indent=1).encode())

    def frames(self) -> list[pd.DataFrame]:
        frames = []
        for saved in self.pages:
            body = (self.folder / saved["file"]).read_bytes()
            fetched = Fetched(saved["url"], 200, saved["content_type"], body, None, False)
            frames.append(parse(fetched, self.source, saved["kind"]).records)
        return frames

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def with_query(url: str, name: str, value: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(parts._replace(query=urlencode([*query, (name, str(value))])))


def next_page(source: Source, page: Page, url: str, partial: Partial) -> str | None:
    """The next page's address: the source's own link, else the page or offset parameter."""
    if page.next_url:
        return page.next_url
    rows = len(page.records)
    first_rows = partial.pages[0]["rows"] if partial.pages else rows
    if not (source.page_param or source.offset_param) or rows == 0 or rows < first_rows:
        return None  # a short or empty page is the last one
    if source.page_param:
        return with_query(url, source.page_param, source.start_page + len(partial.pages) + 1)
    offset = sum(p["rows"] for p in partial.pages) + rows
    return with_query(url, source.offset_param, offset)


def first_url(source: Source) -> str:
    """The source's address, with the first page or offset when the source does not say."""
    given = dict(parse_qsl(urlsplit(source.url).query))
    if source.page_param and source.page_param not in given:
        return with_query(source.url, source.page_param, source.start_page)
    if source.offset_param and source.offset_param not in given:
        return with_query(source.url, source.offset_param, 0)
    return source.url


def check_not_a_loop(partial: Partial, url: str, fetched: Fetched | None = None) -> None:
    for number, saved in enumerate(partial.pages, start=1):
        same_url = fetched is None and saved["url"] == url
        same_body = fetched is not None and saved["sha256"] == sha256(fetched.body)
        if same_url or same_body:
            how = "points back to" if same_url else "has the same content as"
            raise CollectError(
                f"pagination loops: page {len(partial.pages) + 1} ({url}) {how} page {number}; "
                f"the {len(partial.pages)} pages before are kept in {partial.folder}. Fix the paging "
                f"options, or keep what was fetched with MAX_PAGES={len(partial.pages)}"
            )


def fetch_pages(
    source: Source,
    client: PoliteClient,
    partial: Partial,
    max_pages: int,
    progress: Callable[[int, int], None],
) -> tuple[list[str], bool]:
    """Fetch until the last page or MAX_PAGES; return (notes, whether pages were left)."""
    robots = Robots(client)
    notes: list[str] = []
    url = partial.state["next"]
    if not partial.pages:
        url = first_url(source)
    while url and len(partial.pages) < max_pages:
        check_not_a_loop(partial, url)
        robots.check(url)
        fetched = client.get(url, allowed=robots.check)  # a redirect's target too
        check_not_a_loop(partial, url, fetched)
        kind = source.kind if source.kind != "auto" else detect_kind(fetched)
        page = parse(fetched, source, kind)
        if not partial.pages and page.records.empty:
            raise CollectError(
                f"{url} returned no records: nothing to collect. Check the address and its parameters"
            )
        notes += [n for n in page.notes if n not in notes]
        url = next_page(source, page, fetched.url, partial)
        partial.add(fetched, kind, len(page.records), url)
        progress(len(partial.pages), sum(p["rows"] for p in partial.pages))
    return notes, bool(url)


def collect(
    source: Source,
    settings: CollectSettings,
    notify: Callable[[str], None] = print,
    progress: Callable[[int, int], None] = lambda pages, rows: None,
) -> Collected:
    """Every page of `source`, resuming an interrupted run; the pages stay until recorded."""
    start = time.perf_counter()
    partial = Partial(settings.collect_dir, source)
    if partial.resumed:
        notify(f"Resuming {source.name}: {partial.resumed} pages were fetched before")
    client = PoliteClient(settings, notify)
    try:
        notes, more = fetch_pages(source, client, partial, settings.max_pages, progress)
    finally:
        client.close()
    frames = [f for f in partial.frames() if not f.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return Collected(
        source=source,
        frame=frame,
        pages=len(partial.pages),
        kind=partial.pages[0]["kind"],
        requests=client.requests,
        from_cache=client.from_cache,
        seconds=time.perf_counter() - start,
        more_pages=more,
        notes=notes,
    )
