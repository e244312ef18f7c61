"""Keep secrets out of run logs: header values and query parameters that look secret.

Logs are readable by anyone holding a key of the organization and travel in webhook
events, so a step never writes a credential it was given. A value is hidden when its
*name* says it is a secret (authorization, cookie, token, api-key, …) or when the
*value* looks like one (a `Bearer …` credential, a long random-looking string).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"

_SECRET_NAME = re.compile(
    r"auth|token|secret|passw|pwd|cookie|session|signature|credential|api[-_]?key|"
    r"access[-_]?key|private|^key$|[-_]key$|^sig$|x-amz-security",
    re.IGNORECASE,
)
_SCHEME_VALUE = re.compile(
    r"^\s*(bearer|basic|digest|token|negotiate|hmac|aws4-hmac-sha256)\s", re.I
)
_KEY_PREFIX = re.compile(
    r"^(sk|pk|rk|whsec|ghp|gho|xox[abpr]|AKIA|ASIA|AIza|eyJ)[A-Za-z0-9_\-]*", re.I
)


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())


def looks_secret(value: str) -> bool:
    """A credential-looking value: an auth scheme, a known key prefix, or long random text."""
    text = value.strip()
    if _SCHEME_VALUE.match(text):
        return True
    if len(text) >= 16 and _KEY_PREFIX.match(text) and re.fullmatch(r"[\w\-.=+/]+", text):
        return True
    return (
        len(text) >= 24
        and re.fullmatch(r"[A-Za-z0-9_\-.=+/]+", text) is not None
        and any(c.isdigit() for c in text)
        and any(c.isalpha() for c in text)
        and _entropy(text) >= 3.5
    )


def is_secret(name: str, value: str) -> bool:
    return bool(_SECRET_NAME.search(name)) or looks_secret(value)


def headers(values: Mapping[str, str]) -> dict[str, str]:
    """Header name → value, secret-looking values replaced by [redacted]."""
    return {k: (REDACTED if is_secret(k, v) else v) for k, v in values.items()}


def url(value: str) -> str:
    """The URL with secret-looking query parameters (and any userinfo) hidden."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    if not parts.query:
        return urlunsplit(parts._replace(netloc=netloc))
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    safe = [(k, REDACTED if is_secret(k, v) else v) for k, v in pairs]
    query = urlencode(safe, safe="[]")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


# -- organization secrets: resolved values never leave a step ---------------------------------
MASK = "***"


def _forms(value: str) -> set[str]:
    """`value` as it may appear in what a step writes: raw, URL-encoded (a query, a form
    body), HTML-escaped (a page's HTML) and JSON-escaped (a body a server echoes)."""
    import html
    import json
    from urllib.parse import quote, quote_plus

    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), html.escape(value)}
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.add(json.dumps(value)[1:-1])
    return {form for form in forms if form}


class SecretMask:
    """The secret values a step resolved, and `***` in their place in anything it writes.

    Filled while templates render (`runhook.tasks.templating.SecretValues` adds each value
    it resolves), applied to the step's log lines, result, failure message and artifact
    text before any of them leaves the step. Longer forms are replaced first, so a value
    that contains another one is masked whole."""

    def __init__(self) -> None:
        self._forms: list[str] = []

    def add(self, value: str) -> None:
        forms = _forms(value) | set(self._forms)
        self._forms = sorted(forms, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def text(self, value: str) -> str:
        for form in self._forms:
            if form in value:
                value = value.replace(form, MASK)
        return value

    def value(self, value: object) -> object:
        """A JSON value with every string (keys included) masked."""
        if not self._forms:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def data(self, value: bytes) -> bytes:
        """Text bytes (HTML, a console log, a HAR) masked; undecodable bytes left as they are."""
        if not self._forms:
            return value
        return self.text(value.decode("utf-8", errors="surrogateescape")).encode(
            "utf-8", errors="surrogateescape"
        )
