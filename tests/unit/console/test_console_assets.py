"""The console's files and headers (runhook.console), without a server: what is served,
what is not, and that no file needs a weaker CSP (no inline script, handler or eval)."""

from __future__ import annotations

import re

import pytest

from runhook import console


def test_the_page_and_its_modules_are_served_with_their_types() -> None:
    page = console.asset("")
    assert page is not None and page.content_type.startswith("text/html")
    assert console.asset("index.html") == page
    main = console.asset("js/main.js")
    assert main is not None and main.content_type.startswith("text/javascript")
    assert 'src="js/main.js"' in page.body.decode()


def test_every_module_import_resolves_to_a_served_file() -> None:
    modules = sorted(console.STATIC.rglob("*.js"))
    assert len(modules) >= 8
    for path in modules:
        for target in re.findall(r'from "(\.{1,2}/[^"]+)"', path.read_text()):
            resolved = (path.parent / target).resolve().relative_to(console.STATIC.resolve())
            assert console.asset(resolved.as_posix()) is not None, f"{path.name}: {target}"


@pytest.mark.parametrize(
    "name",
    ["../__init__.py", "js/../../__init__.py", "/etc/passwd", "js", "nope.js", "%2e%2e/x", ".."],
)
def test_anything_else_is_not_found(name: str) -> None:
    assert console.asset(name) is None


def test_no_file_needs_inline_script_or_eval() -> None:
    html = console.asset("")
    assert html is not None
    text = html.body.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", text, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert not re.search(r"\sstyle\s*=", text), "inline style"
    for path in sorted(console.STATIC.rglob("*.js")):
        source = path.read_text()
        for banned in ("innerHTML", "outerHTML", "eval(", "new Function", "document.write"):
            assert banned not in source, f"{path.name} uses {banned}"


def test_the_security_headers() -> None:
    headers = console.security_headers("http://127.0.0.1:4566")
    csp = dict(d.split(" ", 1) for d in headers["Content-Security-Policy"].split("; "))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["default-src"] == "'none'"
    assert csp["img-src"].endswith(" http://127.0.0.1:4566")
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "http:" not in console.security_headers(None)["Content-Security-Policy"]


def test_the_artifact_origin_comes_from_the_endpoint_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert console.local_artifact_origin() is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/some/path")
    assert console.local_artifact_origin() == "http://127.0.0.1:5000"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "javascript:alert(1)")
    assert console.local_artifact_origin() is None
