"""The local Lambda: a registry of Python handlers run in-process.

A function is known by its name, its ARN and its template logical id. Handlers from
the template are imported by file path (``<CodeUri>/<module>.py``) under a unique
module name, lazily on first use, as Lambda does on a cold start; the registry's
`resolve_handler` turns the imported module into the handler (the module's Handler
attribute, or `create_handler(container)`: see containers.py). Tests register extra
functions with `FunctionRegistry.register`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from runhook_dev.devcloud.cfn import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from runhook_dev.devcloud.invoker import FunctionInvoker

log = logging.getLogger("devcloud.lambda")

Handler = Callable[[Any, Any], Any]
# (imported module, the Handler's attribute name, the function) → the callable to run.
HandlerResolver = Callable[[ModuleType, str, "LocalFunction"], Handler]


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function: LocalFunction) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + function.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class AsyncConfig:
    """EventInvokeConfig: retries and destinations of asynchronous invocations."""

    maximum_retry_attempts: int = 2
    on_failure_arn: str | None = None
    on_success_arn: str | None = None


@dataclass
class LocalFunction:
    name: str
    handler: str
    logical_id: str | None = None
    code_dir: Path | None = None
    func: Handler | None = None
    timeout_seconds: float = 3.0
    memory_mb: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    async_config: AsyncConfig = field(default_factory=AsyncConfig)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def arn(self) -> str:
        return function_arn(self.name)

    def load(self, resolve: HandlerResolver | None = None) -> Handler:
        """Import the handler (once). Raises ImportError/AttributeError like Lambda's init."""
        if self.func is not None:
            return self.func
        with self._lock:
            if self.func is None:
                module, attribute = _import_module(self)
                self.func = (resolve or module_attribute)(module, attribute, self)
        return self.func


@dataclass
class InvokeResult:
    """What Lambda's Invoke answers: a JSON-able payload, or an error payload."""

    payload: Any
    error: bool = False

    @property
    def error_type(self) -> str | None:
        if self.error and isinstance(self.payload, dict):
            return str(self.payload.get("errorType"))
        return None


def _import_module(function: LocalFunction) -> tuple[ModuleType, str]:
    """The function's module, imported by path; and the Handler's attribute name."""
    if function.code_dir is None:
        raise ImportError(f"function {function.name} has no code directory")
    module_path, _, attribute = function.handler.rpartition(".")
    if not module_path or not attribute:
        raise ImportError(f"bad Handler {function.handler!r} (expected module.function)")
    file = function.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
    if not file.is_file():
        raise ImportError(f"Unable to import module '{module_path}': {file} does not exist")
    unique = f"_runhook_fn_{(function.logical_id or function.name).replace('-', '_')}"
    module_name = f"{unique}__{module_path.replace('.', '__')}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module, attribute


def module_attribute(module: ModuleType, attribute: str, function: LocalFunction) -> Handler:
    """The module's Handler attribute, as Lambda runs it (configured by the environment)."""
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise AttributeError(
            f"Handler '{attribute}' missing on module '{module.__name__}' ({module.__file__})"
        )
    return handler  # type: ignore[no-any-return]


def marshalled(result: InvokeResult) -> tuple[InvokeResult, bytes]:
    """`result` and its payload as Lambda's Invoke answers it: a payload that is not JSON
    becomes Lambda's own Runtime.MarshalError function error."""
    try:
        return result, json.dumps(result.payload).encode()
    except (TypeError, ValueError) as exc:
        failed = InvokeResult(
            {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
                "stackTrace": [],
            },
            error=True,
        )
        return failed, json.dumps(failed.payload).encode()


def error_payload(exc: BaseException) -> dict[str, Any]:
    """Lambda's error shape for an unhandled exception."""
    # Like Lambda's runtime: the handler's frames, not the runtime's own.
    summary = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if os.path.dirname(f.filename) != os.path.dirname(__file__)
    ]
    frames = traceback.format_list(summary)
    if isinstance(exc, ImportError | SyntaxError):
        error_type = "Runtime.ImportModuleError"
    else:
        error_type = type(exc).__name__
    return {
        "errorMessage": str(exc),
        "errorType": error_type,
        "requestId": "",
        "stackTrace": [line.rstrip("\n") for line in frames],
    }


class FunctionRegistry:
    """Functions by name, ARN or logical id; every invoke of the cloud goes through
    `invoke`, which hands it to `invoker` (in this process, or a Lambda endpoint: the
    seam of invoker.py, chosen when the cloud is composed)."""

    def __init__(self) -> None:
        from runhook_dev.devcloud import printguard
        from runhook_dev.devcloud.invoker import InProcessInvoker

        printguard.install()  # handlers print (EMF) on threads: see printguard

        self._by_key: dict[str, LocalFunction] = {}
        self._lock = threading.Lock()
        # How an imported module becomes its handler (LocalCloud wires containers here).
        self.resolve_handler: HandlerResolver = module_attribute
        self.invoker: FunctionInvoker = InProcessInvoker(self)

    def add(self, function: LocalFunction) -> LocalFunction:
        with self._lock:
            old = self._by_key.get(function.name)
            if old is not None:
                for key in [k for k, v in self._by_key.items() if v is old]:
                    del self._by_key[key]
            for alias in (function.name, function.arn, function.logical_id):
                if alias:
                    self._by_key[alias] = function
        return function

    def register(
        self,
        name: str,
        func: Handler,
        *,
        timeout_seconds: float = 30.0,
        maximum_retry_attempts: int = 2,
        on_failure_arn: str | None = None,
    ) -> LocalFunction:
        """Register a Python callable as a Lambda function named `name` (tests use this)."""
        return self.add(
            LocalFunction(
                name=name,
                handler=f"{getattr(func, '__module__', '?')}.{getattr(func, '__name__', '?')}",
                func=func,
                timeout_seconds=timeout_seconds,
                async_config=AsyncConfig(maximum_retry_attempts, on_failure_arn),
            )
        )

    def get(self, key: str) -> LocalFunction | None:
        """Look a function up by name, ARN (with or without qualifier) or logical id."""
        function = self._by_key.get(key)
        if function is None and key.startswith("arn:"):
            parts = key.split(":")
            if len(parts) >= 7:
                function = self._by_key.get(parts[6])
        if function is None and ":" in key and not key.startswith("arn:"):
            function = self._by_key.get(key.split(":", 1)[0])  # name:qualifier
        return function

    def invoke(self, function: LocalFunction, event: Any) -> InvokeResult:
        """Invoke synchronously wherever handlers run (`invoker`); never raises for a
        function's own failure."""
        return self.invoker.invoke(function, event)

    def run_here(self, function: LocalFunction, event: Any) -> InvokeResult:
        """Run the handler in this process (the in-process invoker)."""
        started = time.monotonic()
        try:
            handler = function.load(self.resolve_handler)
            result = handler(event, LambdaContext(function))
        except Exception as exc:
            elapsed = (time.monotonic() - started) * 1000
            log.warning(
                "%s failed after %.0f ms: %s: %s", function.name, elapsed, type(exc).__name__, exc
            )
            log.debug("traceback of %s", function.name, exc_info=exc)
            return InvokeResult(error_payload(exc), error=True)
        log.debug("%s answered in %.0f ms", function.name, (time.monotonic() - started) * 1000)
        return InvokeResult(result)
