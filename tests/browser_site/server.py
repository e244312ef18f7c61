"""A small local web site for the browser-step tests (and scripts/bench_browser.py).

Static pages from pages/ plus a few dynamic routes:
- ``/redirect?to=<url>``       302 to `to` (the guard must see the hop);
- ``/big?mb=<n>``              n MiB of spaces (the size cap must cut it);
- ``/slow?seconds=<s>``        answers after `s` seconds (a long browser step);
- ``/download``                an attachment (downloads are refused);
- ``/gate?name=<n>``           answers once the test opened gate `n` (`open_gate`), so a
                               page can wait for a moment the test chooses, not a timer;
- ``/login``, ``/account``     a sign-in form (user `ada`, the password in
                               `site.accounts.password`) and the page behind it (a
                               session cookie); `site.accounts.logins` counts the form
                               posts that signed in; ``/login?hint=<h>`` shows `h`;
- ``/echo``                    JSON of the request (method, path, headers, body).
Served by `tests.support.loopback.LoopbackServer` on 127.0.0.1, a free port; `requests`
lists every path asked (without the query), in order.
"""

from __future__ import annotations

import json
import mimetypes
import secrets
import threading
import time
from email.utils import formatdate
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.support.loopback import Answer, LoopbackServer, Request

PAGES = Path(__file__).resolve().parent / "pages"
GATE_WAIT = 60.0  # seconds a /gate request is held at most (then 504)


class Gates:
    """Named gates: a `/gate?name=n` request is held until the test calls `open(n)`.

    A page that shows an element once its /gate request answers shows it when the test
    says, whatever the machine's load did to the page's timers or to `goto`. An opened
    gate stays open (a request that comes later answers at once); `release()` lets every
    held request go (the site stops)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[str, threading.Event] = {}
        self._released = threading.Event()

    def _gate(self, name: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(name, threading.Event())

    def open(self, name: str) -> None:
        self._gate(name).set()

    def wait(self, name: str, timeout: float = GATE_WAIT) -> bool:
        """Whether gate `name` opened within `timeout` s (False if the site stopped)."""
        gate = self._gate(name)
        deadline = time.monotonic() + timeout
        while not gate.wait(0.1):
            if self._released.is_set() or time.monotonic() >= deadline:
                return False
        return True

    def release(self) -> None:
        self._released.set()


class Accounts:
    """The sign-in pages' state: the password, the sessions handed out, the logins."""

    USER = "ada"

    def __init__(self) -> None:
        self.password = "correct horse"
        self.logins = 0  # form posts that signed in
        self.failed = 0
        self._sessions: set[str] = set()
        self._lock = threading.Lock()

    def signed_in(self, request: Request) -> bool:
        cookies = dict(
            part.strip().split("=", 1)
            for part in request.headers.get("cookie", "").split(";")
            if "=" in part
        )
        return cookies.get("sid", "") in self._sessions

    def sign_in(self, request: Request) -> Answer:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        with self._lock:
            if form.get("user") != self.USER or form.get("password") != self.password:
                self.failed += 1
                return Answer(401, {"Content-Type": "text/html"}, b"<p id=wrong>Wrong password</p>")
            self.logins += 1
            token = secrets.token_hex(16)
            self._sessions.add(token)
        cookie = f"sid={token}; Path=/; HttpOnly; Max-Age=3600"
        return Answer(302, {"Location": "/account", "Set-Cookie": cookie}, b"")


_LOGIN = """<!doctype html><html><head><title>Sign in</title></head><body>
<p id="hint">{hint}</p>
<form id="login" method="post" action="/login">
<input id="user" name="user"><input id="password" name="password" type="password">
<button id="sign-in" type="submit">Sign in</button></form>
<script>console.log("login page ready"); console.error("a console error for the log");</script>
</body></html>"""
_ACCOUNT = """<!doctype html><html><head><title>Account</title></head><body>
<h1>Welcome back, ada</h1><p id="balance">42.00 EUR</p></body></html>"""


def _accounts(request: Request, accounts: Accounts, query: dict[str, str]) -> Answer:
    route = request.route
    html = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    if route == "/login" and request.method == "POST":
        return accounts.sign_in(request)
    if route == "/login":
        if accounts.signed_in(request):
            return Answer(302, {"Location": "/account"}, b"")
        return Answer(200, html, _LOGIN.format(hint=escape(query.get("hint", ""))).encode())
    if not accounts.signed_in(request):
        return Answer(302, {"Location": "/login"}, b"")
    return Answer(200, html, _ACCOUNT.encode())


def _echo(request: Request) -> Answer:
    body = {
        "method": request.method,
        "path": request.path,
        "headers": dict(request.headers),
        "body": request.body.decode(errors="replace"),
    }
    return Answer(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def _page(path: str) -> Answer:
    file = (PAGES / path.lstrip("/")).resolve()
    if file.parent != PAGES or not file.is_file():
        return Answer(404, {"Content-Type": "text/plain"}, b"File not found")
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    last_modified = formatdate(file.stat().st_mtime, usegmt=True)
    return Answer(
        200, {"Content-Type": content_type, "Last-Modified": last_modified}, file.read_bytes()
    )


def respond(request: Request, gates: Gates, accounts: Accounts | None = None) -> Answer:
    """The site's answer to one request."""
    parts = urlsplit(request.path)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if parts.path in ("/login", "/account") and accounts is not None:
        return _accounts(request, accounts, query)
    if parts.path == "/echo":
        return _echo(request)
    if parts.path == "/gate":
        opened = gates.wait(query.get("name", ""))
        no_store = {"Content-Type": "text/plain", "Cache-Control": "no-store"}
        return Answer(200 if opened else 504, no_store, b"open" if opened else b"closed")
    if parts.path == "/redirect":
        return Answer(302, {"Location": query.get("to", "/")}, b"")
    if parts.path == "/big":
        size = int(float(query.get("mb", "1")) * 1024 * 1024)
        return Answer(200, {"Content-Type": "text/html"}, b" " * size)
    if parts.path == "/slow":
        body = b"<html><title>slow</title><body>finally</body></html>"
        return Answer(
            200, {"Content-Type": "text/html"}, body, delay=float(query.get("seconds", "30"))
        )
    if parts.path == "/download":
        disposition = 'attachment; filename="report.bin"'
        headers = {"Content-Type": "application/octet-stream", "Content-Disposition": disposition}
        return Answer(200, headers, b"data")
    return _page(parts.path)


class SiteServer:
    """The site on a free loopback port: `SiteServer().start()`, `.url`, `.requests`, `.stop()`.

    Each answer closes its connection (HTTP/1.0), as the static file server it replaces did.
    """

    def __init__(self) -> None:
        self._server: LoopbackServer | None = None
        self.gates = Gates()
        self.accounts = Accounts()

    def start(self) -> SiteServer:
        gates, accounts = self.gates, self.accounts
        self._server = LoopbackServer(
            lambda request: respond(request, gates, accounts), protocol="HTTP/1.0"
        )
        return self

    def open_gate(self, name: str) -> None:
        """Let the pages waiting on `/gate?name=<name>` (and those that ask later) go on."""
        self.gates.open(name)

    @property
    def server(self) -> LoopbackServer:
        assert self._server is not None, "SiteServer().start() first"
        return self._server

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def requests(self) -> list[str]:
        """The paths asked so far (no query strings), in arrival order."""
        return [request.route for request in self.server.recorded()]

    def stop(self) -> None:
        self.gates.release()
        self.server.stop()
