"""`http`: one HTTP request; result ``{status, headers, json | text}``.

- method, url, headers, query, json/body are templates rendered over the run context;
- the target passes the SSRF guard (runhook.netguard) before every request and every
  redirect hop: the URL is checked first (scheme, https, an IP literal), and the request
  goes through the guard's transport, which for every new connection resolves the host
  once, vets every address and connects only to a vetted one, with TLS (SNI,
  certificate) and `Host` for the real name. A DNS answer that changes after the
  check (rebinding) is never used; a redirect to another host opens a new, vetted
  connection. The webhook sender uses the same transport;
- the expected status is 2xx unless `expectedStatus` lists others; 408, 425, 429 and
  5xx, timeouts and connection errors are retryable (the engine retries when the step
  has a `retry` policy, honouring Retry-After); other statuses fail at once;
- the attempt is bounded by its timeout as a whole (connect, send, read), not per read;
- response bodies are capped at 1 MB (a warning says so); a JSON content type gives
  `json` (unless truncated), anything else `text`;
- header values and query parameters that look like secrets never reach the logs;
- organization secrets (`{{ secrets.NAME }}`, steps/secrets.py) are masked (`***`) in
  the step's log lines, result and failure message.
"""

from __future__ import annotations

import json
import ssl
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from runhook import clock
from runhook.engine import redact
from runhook.engine.steps.base import StepCall, StepFailure, StepKind, short
from runhook.engine.steps.secrets import SecretSource, StepSecrets
from runhook.netguard import BlockedTarget, Resolver, guarded_transport, parse_target
from runhook.tasks.definition import HttpStep
from runhook.tasks.templating import render, render_value

if TYPE_CHECKING:
    import httpcore
    import httpx

# httpx is imported where a request is made, not at import: the step function's cold start
# then pays for it only in runs with an http step (tests/template/test_import_budget.py).

MAX_BODY_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "runhook/1.0 (+https://github.com/runhook)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """One verifying TLS context per container: loading the CA bundle costs ~100 ms."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            import certifi

            _ssl_context = ssl.create_default_context(cafile=certifi.where())
        return _ssl_context


class _Request:
    """The rendered request (what is sent), built once per attempt."""

    def __init__(self, step: HttpStep, data: dict[str, Any]) -> None:
        self.method: str = step.method
        self.url: str = render(step.url, data).strip()
        self.headers: dict[str, str] = {
            k: render(v, data) for k, v in step.headers.items() if k.lower() != "host"
        }
        self.params: dict[str, str] = {k: render(v, data) for k, v in step.query.items()}
        self.json: Any = render_value(step.json_, data) if step.json_ is not None else None
        self.body: str | None = render(step.body, data) if step.body is not None else None
        if self.params:
            import httpx

            self.url = str(httpx.URL(self.url).copy_merge_params(self.params))

    def describe(self) -> str:
        line = f"{self.method} {redact.url(self.url)}"
        if self.headers:
            shown = ", ".join(f"{k}: {v}" for k, v in redact.headers(self.headers).items())
            line += f" (headers: {short(shown, 400)})"
        return line


def _size(n: int) -> str:
    return (
        f"{n} B"
        if n < 1024
        else f"{n / 1024:.1f} KB"
        if n < 1024 * 1024
        else f"{n / 1048576:.1f} MB"
    )


def _retry_after(response: httpx.Response) -> float | None:
    return clock.parse_retry_after(response.headers.get("retry-after"), clock.now())


class HttpKind(StepKind):
    kind = "http"
    config = HttpStep
    default_timeout = 30.0

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        network: httpcore.NetworkBackend | None = None,
        secrets: SecretSource | None = None,
    ) -> None:
        """`resolver` and `network`: the SSRF guard's DNS and socket seams (tests fake DNS);
        `secrets`: where `{{ secrets.NAME }}` comes from (None: the table and KMS)."""
        self.resolver = resolver
        self.network = network
        self.secrets = secrets

    def describe(self, call: StepCall) -> str | None:
        return None  # each attempt logs its request line

    def run(self, call: StepCall) -> Any:
        secrets = StepSecrets(call, self.secrets)
        with secrets.guarded():
            return secrets.mask.value(self._run(secrets.call))

    def _run(self, call: StepCall) -> Any:
        step: HttpStep = call.step
        request = _Request(step, call.data)
        attempt = f" (attempt {call.attempt}/{call.max_attempts})" if call.max_attempts > 1 else ""
        call.log("info", request.describe() + attempt)
        started = call.clock()
        deadline = started + call.timeout
        response, body, truncated = self._send(call, request, deadline)
        elapsed_ms = int((call.clock() - started) * 1000)
        expected = step.expectedStatus
        ok = response.status_code in expected if expected else 200 <= response.status_code < 300
        summary = (
            f"{response.status_code} {response.reason_phrase} in {elapsed_ms} ms, "
            f"{_size(len(body))}{' ' + response.headers.get('content-type', '') if body else ''}"
        ).rstrip()
        if not ok:
            wanted = ", ".join(map(str, expected)) if expected else "2xx"
            excerpt = body[:300].decode("utf-8", errors="replace")
            raise StepFailure(
                "http_error",
                f"expected status {wanted}, got {response.status_code} {response.reason_phrase}"
                + (f": {short(excerpt, 300)}" if excerpt.strip() else ""),
                retryable=response.status_code in RETRYABLE_STATUS,
                retry_after=_retry_after(response),
            )
        call.log("info", summary)
        if truncated:
            call.log("warning", f"response body truncated to {_size(MAX_BODY_BYTES)}")
        return self._result(response, body, truncated, step.method)

    # -- sending ----------------------------------------------------------------------
    def _send(
        self, call: StepCall, request: _Request, deadline: float
    ) -> tuple[httpx.Response, bytes, bool]:
        method, url = request.method, request.url
        headers = {"User-Agent": USER_AGENT, **request.headers}
        content: bytes | None = None
        if request.json is not None:
            content = json.dumps(request.json, ensure_ascii=False).encode()
            headers.setdefault("Content-Type", "application/json")
        elif request.body is not None:
            content = request.body.encode()
        import httpx

        allow_private = call.settings.allow_private_targets
        transport = guarded_transport(
            allow_private=allow_private,
            resolver=self.resolver,
            network=self.network,
            verify=_tls(),
        )
        with httpx.Client(transport=transport, follow_redirects=False, trust_env=False) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                try:
                    parse_target(url, allow_private=allow_private)
                except BlockedTarget as exc:
                    raise StepFailure(exc.code, str(exc)) from exc
                response, body, truncated = self._exchange(
                    client, method, url, dict(headers), content, deadline, call
                )
                if response.status_code not in _REDIRECTS or "location" not in response.headers:
                    return response, body, truncated
                next_url = urljoin(url, response.headers["location"])
                call.log("info", f"{response.status_code} redirect to {redact.url(next_url)}")
                if response.status_code == 303 or (
                    response.status_code in {301, 302} and method == "POST"
                ):
                    method = "GET" if method != "HEAD" else method
                    content = None
                    headers = {
                        k: v for k, v in headers.items() if k.lower() not in {"content-type"}
                    }
                if urlsplit(next_url).netloc != urlsplit(url).netloc:
                    headers = {
                        k: v
                        for k, v in headers.items()
                        if k.lower() not in {"authorization", "cookie", "proxy-authorization"}
                    }
                url = next_url
        raise StepFailure("too_many_redirects", f"more than {MAX_REDIRECTS} redirects")

    def _exchange(
        self,
        client: httpx.Client,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        deadline: float,
        call: StepCall,
    ) -> tuple[httpx.Response, bytes, bool]:
        import httpx

        remaining = deadline - call.clock()
        if remaining <= 0:
            raise self._timeout(call)
        try:
            request = client.build_request(
                method,
                url,
                headers=headers,
                content=content,
                timeout=httpx.Timeout(remaining),
            )
            response = client.send(request, stream=True)
        except BlockedTarget as exc:  # the host resolved to an address that may not be called
            raise StepFailure(exc.code, str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise self._timeout(call) from exc
        except httpx.HTTPError as exc:
            raise StepFailure(
                "connection_error", f"request failed: {exc or type(exc).__name__}", retryable=True
            ) from exc
        try:
            chunks: list[bytes] = []
            size = 0
            truncated = False
            if method != "HEAD":
                for chunk in response.iter_bytes():
                    if call.clock() > deadline:
                        raise self._timeout(call)
                    if size + len(chunk) > MAX_BODY_BYTES:
                        chunks.append(chunk[: MAX_BODY_BYTES - size])
                        truncated = True
                        break
                    chunks.append(chunk)
                    size += len(chunk)
        except httpx.TimeoutException as exc:
            raise self._timeout(call) from exc
        except httpx.HTTPError as exc:
            raise StepFailure(
                "connection_error", f"reading the response failed: {exc}", retryable=True
            ) from exc
        finally:
            response.close()
        return response, b"".join(chunks), truncated

    @staticmethod
    def _timeout(call: StepCall) -> StepFailure:
        return StepFailure(
            "step_timeout", f"no complete response within {call.timeout:g} s", retryable=True
        )

    # -- result -----------------------------------------------------------------------
    @staticmethod
    def _result(response: httpx.Response, body: bytes, truncated: bool, method: str) -> Any:
        headers: dict[str, str] = {}
        for name, value in response.headers.multi_items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        result: dict[str, Any] = {"status": response.status_code, "headers": headers}
        content_type = headers.get("content-type", "").lower()
        text = body.decode(response.encoding or "utf-8", errors="replace")
        if "json" in content_type and not truncated and method != "HEAD" and body.strip():
            try:
                result["json"] = json.loads(text)
                return result
            except ValueError:
                pass
        result["text"] = text
        if truncated:
            result["truncated"] = True
        return result
