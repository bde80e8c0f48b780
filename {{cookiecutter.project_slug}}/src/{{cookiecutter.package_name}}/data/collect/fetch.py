"""The polite HTTP client: robots.txt obeyed, one request at a time with a delay, 429/503
and Retry-After honoured, timeouts and byte caps on everything, fetched pages cached."""

import socket
import ssl
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import hishel
import httpx
from hishel.httpx import CacheTransport

from .errors import CollectError
from .settings import CollectSettings

RETRY_STATUSES = {429, 500, 502, 503, 504}
# "Too many requests" or "unavailable" without a Retry-After: wait this long (doubling each
# try, at most COLLECT_MAX_WAIT_S), never just the usual delay that was already too fast.
RATE_LIMITED_WAIT_S = 5.0
REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 5
STATUS_PROBLEMS = {
    401: "needs a login: collect only what is public, or use the site's API with your own key",
    403: "refuses access (403 Forbidden): the site does not want this page collected",
    404: "does not exist (404 Not Found): check the address",
    410: "is gone for good (410 Gone): the site removed it; find where the data moved",
}


@dataclass
class Fetched:
    url: str  # after redirects
    status: int
    content_type: str
    body: bytes
    next_link: str | None  # the HTTP `Link: <...>; rel="next"` header
    from_cache: bool
    retry_after: str | None = None
    location: str | None = None  # a redirect's target


def _cause(error: BaseException, kind: type) -> BaseException | None:
    """The first exception of `kind` behind `error` (httpx wraps the socket's own)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def connect_problem(error: httpx.TransportError, url: str) -> tuple[str, bool]:
    """(what went wrong, in words; whether trying again may help)."""
    host = urlsplit(url).netloc
    if _cause(error, socket.gaierror):
        return (
            f"cannot find the host {host} (DNS lookup failed): check the address for a typo",
            False,
        )
    tls = _cause(error, ssl.SSLError)
    if tls:
        reason = getattr(tls, "reason", None) or str(tls)
        return (
            f"TLS failed with {host} ({reason}): the site's HTTPS is broken or intercepted, or it "
            "speaks plain http://; never switch certificate checks off to get past this"
        ), False
    if _cause(error, ConnectionRefusedError):
        return (
            f"nothing answers at {host} (connection refused): is the address right, the site up?",
            True,
        )
    if isinstance(error, httpx.TimeoutException):
        return f"{host} did not answer in time (COLLECT_TIMEOUT_S)", True
    return f"the connection to {host} failed ({error or type(error).__name__})", True


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class PoliteClient:
    """One request at a time to any site, `delay` seconds apart (cache hits send nothing)."""

    def __init__(self, settings: CollectSettings, notify: Callable[[str], None] = print):
        self.settings = settings
        self.notify = notify
        self.delay = settings.collect_delay_s
        self.requests = 0  # sent to the network (a cache hit is not one)
        self.from_cache = 0
        self._last_request_end: float | None = None
        transport: httpx.BaseTransport = httpx.HTTPTransport()
        if settings.collect_cache_ttl_s > 0:
            settings.collect_cache.parent.mkdir(parents=True, exist_ok=True)
            storage = hishel.SqliteStorage(
                database_path=settings.collect_cache, default_ttl=settings.collect_cache_ttl_s
            )
            transport = CacheTransport(next_transport=transport, storage=storage)
        self.client = httpx.Client(
            transport=transport,
            headers={"User-Agent": settings.user_agent},
            timeout=settings.collect_timeout_s,
            follow_redirects=False,  # followed in `request`, each hop checked against robots.txt
        )

    def close(self) -> None:
        self.client.close()

    def _wait_turn(self) -> None:
        if self._last_request_end is not None:
            wait = self.delay - (time.monotonic() - self._last_request_end)
            if wait > 0:
                time.sleep(wait)

    def _once(self, url: str) -> Fetched:
        """One GET, its body read as it arrives and refused past COLLECT_MAX_BYTES."""
        cap = self.settings.collect_max_bytes
        self._wait_turn()
        try:
            with self.client.stream("GET", url) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise self._too_big(url, int(declared))
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > cap:
                        raise self._too_big(url, len(body))
                # hishel's CacheStatus is a TypedDict: a key, not an attribute.
                cached = (response.extensions.get("caching") or {}).get("from_cache", False)
                return Fetched(
                    url=str(response.url),
                    status=response.status_code,
                    content_type=response.headers.get("content-type", ""),
                    body=bytes(body),
                    next_link=response.links.get("next", {}).get("url"),
                    from_cache=bool(cached),
                    retry_after=response.headers.get("retry-after"),
                    location=response.headers.get("location"),
                )
        finally:
            self._last_request_end = time.monotonic()

    def _too_big(self, url: str, size: int) -> CollectError:
        return CollectError(
            f"{url} sent more than COLLECT_MAX_BYTES={self.settings.collect_max_bytes:,} bytes "
            f"({size:,} so far): ask for smaller pages, or raise COLLECT_MAX_BYTES if you expect it"
        )

    def request(self, url: str, allowed: Callable[[str], None] = lambda url: None) -> Fetched:
        """GET `url`, following redirects (each one `allowed` first); any final status."""
        for _ in range(MAX_REDIRECTS + 1):
            fetched = self._with_retries(url)
            if fetched.status not in REDIRECTS or not fetched.location:
                return fetched
            url = urljoin(url, fetched.location)
            allowed(url)
        raise CollectError(f"{url}: more than {MAX_REDIRECTS} redirects; check the address")

    def _with_retries(self, url: str) -> Fetched:
        """GET `url`, retrying 429/5xx and dropped connections with backoff."""
        tries = self.settings.collect_retries + 1
        problem = ""
        for attempt in range(tries):
            backoff = max(self.delay, 0.05) * 2**attempt
            try:
                fetched = self._once(url)
            except httpx.TransportError as error:
                problem, transient = connect_problem(error, url)
                if not transient:
                    raise CollectError(f"{url}: {problem}.") from None
            else:
                if fetched.from_cache:
                    self.from_cache += 1
                    self._last_request_end = None  # nothing was sent: no need to wait
                else:
                    self.requests += 1
                if fetched.status not in RETRY_STATUSES:
                    return fetched
                problem = f"answered {fetched.status}"
                asked = retry_after_seconds(fetched.retry_after)
                if asked is not None:
                    if asked > self.settings.collect_max_wait_s:
                        raise CollectError(
                            f"{url} asks to wait {asked:.0f} s (Retry-After), more than "
                            f"COLLECT_MAX_WAIT_S={self.settings.collect_max_wait_s:g}: try later"
                        )
                    backoff = max(asked, self.delay)
                elif fetched.status in {429, 503}:
                    polite = RATE_LIMITED_WAIT_S * 2**attempt
                    backoff = min(max(backoff, polite), self.settings.collect_max_wait_s)
            if attempt + 1 < tries:
                self.notify(f"{url} {problem}; waiting {backoff:.1f} s before trying again")
                time.sleep(backoff)
                self._last_request_end = time.monotonic()
        raise CollectError(
            f"{url}: {problem} (tried {tries} times); try later, a re-run resumes where this "
            "one stopped"
        )

    def get(self, url: str, allowed: Callable[[str], None] = lambda url: None) -> Fetched:
        """GET `url`; anything but a success is a CollectError that says what to do."""
        fetched = self.request(url, allowed)
        if 200 <= fetched.status < 300:
            return fetched
        problem = STATUS_PROBLEMS.get(fetched.status, f"answered {fetched.status}")
        raise CollectError(f"{url} {problem}.")


class Robots:
    """robots.txt, read once per site and obeyed; a refusal names the rule that forbids."""

    def __init__(self, client: PoliteClient):
        self.client = client
        self.agent = client.settings.user_agent
        self.sites: dict[str, urllib.robotparser.RobotFileParser] = {}

    def _load(self, origin: str) -> urllib.robotparser.RobotFileParser:
        parser = urllib.robotparser.RobotFileParser(f"{origin}/robots.txt")
        fetched = self.client.request(f"{origin}/robots.txt")
        if fetched.status in (401, 403):
            # The convention: a site that hides robots.txt says no. (disallow_all, like entries
            # and default_entry below, is RobotFileParser's own state, which typeshed leaves out.)
            vars(parser)["disallow_all"] = True
        elif fetched.status >= 500:
            raise CollectError(
                f"{origin}/robots.txt answered {fetched.status}: without it the site's rules are "
                "unknown, so nothing is collected (RFC 9309); try later"
            )
        elif fetched.status < 400:
            parser.parse(fetched.body.decode("utf-8", "replace").splitlines())
        else:
            parser.parse([])  # no robots.txt: everything is allowed
        parser.modified()
        return parser

    def check(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.sites:
            self.sites[origin] = self._load(origin)
            delay = self.sites[origin].crawl_delay(self.agent)
            if delay and float(delay) > self.client.delay:
                self.client.notify(f"robots.txt asks for {delay} s between requests: obeyed")
                self.client.delay = float(delay)
        parser = self.sites[origin]
        if not parser.can_fetch(self.agent, url):
            raise CollectError(
                f"robots.txt of {origin} forbids {parts.path or '/'} to this collector "
                f"({self._rule(parser, url)}): collect only what the site allows, or ask its owner"
            )

    def _rule(self, parser: urllib.robotparser.RobotFileParser, url: str) -> str:
        rules = vars(parser)
        if rules["disallow_all"]:
            return "robots.txt could not be read (401/403): everything is disallowed"
        parts = urlsplit(url)
        path = quote(urlunsplit(("", "", parts.path or "/", parts.query, "")))
        for entry in [*rules["entries"], rules["default_entry"]]:
            if entry is not None and entry.applies_to(self.agent):
                agents = ", ".join(entry.useragents)
                for line in entry.rulelines:
                    if line.applies_to(path) and not line.allowance:
                        return f"User-agent: {agents} / Disallow: {line.path}"
        return "no single rule: the site disallows it"
