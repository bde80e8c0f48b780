"""A real HTTP server on 127.0.0.1 for the collect tests: APIs, files, tables and bad answers.

It logs every request (when, what, which User-Agent) so tests can check the collector's
manners from the server's side.
"""

import io
import json
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

PAGE_SIZE = 100
ROBOTS = "User-agent: *\nDisallow: /private/\n"


def make_rows(first_id: int, count: int, seed: int = 0) -> list[dict]:
    """Records with a nested owner; `label` follows `x`, so a model can learn it."""
    rng = np.random.default_rng(seed)
    rows = []
    for number in range(first_id, first_id + count):
        x = float(rng.uniform(0, 1))
        noisy = x + rng.normal(0, 0.15)
        rows.append(
            {
                "id": number,
                "x": round(x, 4),
                "group": ["a", "b", "c"][number % 3],
                "owner": {"name": f"owner{number % 7}", "city": ["Oslo", "Lima"][number % 2]},
                "label": int(noisy > 0.5),
            }
        )
    return rows


def flat(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "owner"} for r in rows]


class Handler(BaseHTTPRequestHandler):
    server: "CollectServer"

    def log_message(self, *args) -> None:  # the log below replaces stderr lines
        pass

    def send(self, status: int, body: bytes | str, content_type: str, **headers: str) -> None:
        body = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def json(self, document, **headers: str) -> None:
        self.send(200, json.dumps(document), "application/json", **headers)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.log.append((time.monotonic(), self.path, self.headers.get("User-Agent", "")))
        page = int(parse_qs(parts.query).get("page", ["1"])[0])
        if parts.path.startswith("/api/"):
            time.sleep(self.server.page_delay_s)
        route = getattr(
            self, "route_" + parts.path.strip("/").replace("/", "_").replace(".", "_"), None
        )
        if route is None:
            self.send(404, "not found", "text/plain")
        else:
            route(page)

    def rows(self, page: int) -> list[dict]:
        rows = self.server.rows
        return rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]

    def last(self, page: int) -> bool:
        return page * PAGE_SIZE >= len(self.server.rows)

    def route_robots_txt(self, page):
        self.send(200, self.server.robots, "text/plain")

    def with_next(self, page: int, path: str) -> dict:
        return {
            "results": self.rows(page),
            "next": None if self.last(page) else f"{path}?page={page + 1}",
        }

    def route_api_body(self, page):
        self.json(self.with_next(page, "/api/body"))

    def route_api_link(self, page):
        headers = {} if self.last(page) else {"Link": f'</api/link?page={page + 1}>; rel="next"'}
        self.json(self.rows(page), **headers)

    def route_api_pages(self, page):
        self.json({"count": len(self.server.rows), "data": self.rows(page)})

    def route_api_offset(self, page):
        offset = int(parse_qs(urlsplit(self.path).query).get("offset", ["0"])[0])
        self.json({"items": self.server.rows[offset : offset + PAGE_SIZE]})

    def route_api_ratelimited(self, page):
        if page == 2 and not self.server.limited:
            self.server.limited = True
            self.send(429, "slow down", "text/plain", Retry_After="1")
        else:
            self.json(self.with_next(page, "/api/ratelimited"))

    def route_api_throttled(self, page):
        if page == 2 and not self.server.throttled:
            self.server.throttled = True
            self.send(429, "slow down", "text/plain")  # and no word on how long
        else:
            self.json(self.with_next(page, "/api/throttled"))

    def route_api_flaky(self, page):
        if not self.server.failed_once:
            self.server.failed_once = True
            self.send(500, "oops", "text/plain")
        else:
            self.json(self.rows(page))

    def route_api_slow(self, page):
        time.sleep(self.server.slow_s)
        self.json(self.rows(page))

    def route_api_loop(self, page):
        self.json({"results": self.rows(page), "next": f"/api/loop?page={page % 2 + 1}"})

    def route_api_same(self, page):  # ignores its page parameter
        self.json({"data": self.rows(1)})

    def route_data_csv(self, page):
        self.send(200, pd.DataFrame(flat(self.server.rows)).to_csv(index=False), "text/csv")

    route_private_data_csv = route_data_csv

    def route_data_xlsx(self, page):
        buffer = io.BytesIO()
        pd.DataFrame(flat(self.server.rows)).to_excel(buffer, index=False, sheet_name="people")
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        self.send(200, buffer.getvalue(), kind)

    def route_tables_html(self, page):
        prices = pd.DataFrame({"city": ["Oslo", "Lima"], "price": [3.5, 1.25]}).to_html(index=False)
        people = pd.DataFrame(flat(self.server.rows)).to_html(index=False)
        self.send(200, f"<html><body>{prices}<p>and</p>{people}</body></html>", "text/html")

    def route_notable_html(self, page):
        self.send(200, "<html><body><p>No data here.</p></body></html>", "text/html")

    def route_moved(self, page):
        self.send(302, "", "text/plain", Location="/private/data.csv")

    def route_members(self, page):
        self.send(302, "", "text/plain", Location="/login")

    def route_login(self, page):
        form = '<html><form method="post"><input name="user"><input type="password" name="pw"></form></html>'
        self.send(200, form, "text/html; charset=utf-8")

    def route_gone(self, page):
        self.send(410, "gone", "text/plain")

    def route_logo_png(self, page):
        self.send(200, b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")

    def route_empty_json(self, page):
        self.json([])

    def route_shape_json(self, page):
        self.json({"status": "ok", "count": 3})

    def route_big_json(self, page):
        self.json(make_rows(1, 2000))


class CollectServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.log: list[tuple[float, str, str]] = []
        self.rows = make_rows(1, 300)
        self.robots = ROBOTS
        self.limited = False
        self.throttled = False
        self.failed_once = False
        self.slow_s = 0.0
        self.page_delay_s = 0.0  # every /api/ page (the kill test needs time to kill)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up on purpose
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.log if path != "/robots.txt"]


@contextmanager
def collect_server():
    server = CollectServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
