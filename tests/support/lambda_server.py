"""A stand-in for `sam local start-lambda` (no Docker here): Lambda's Invoke wire contract,
each template function run with the environment SAM CLI would give its container.

    python -m tests.support.lambda_server --template template.yaml --env-vars env.json

prints ``lambda endpoint: http://127.0.0.1:<port>`` once it listens, then serves:

- ``POST /2015-03-31/functions/<logical id>/invocations`` (what `runhook dev
  --lambda-endpoint` sends): RequestResponse runs the handler and answers its result, a
  function error with ``X-Amz-Function-Error: Unhandled`` and Lambda's error payload; Event
  answers 202 and runs it in a thread; DryRun answers 204; an unknown function 404
  (``ResourceNotFoundException``);
- ``GET /invocations``: how many invokes each function got (the test's evidence that
  every invoke came here);
- ``POST /faults`` ``{"<logical id>": {"count": n, "errorType": "..."}}``: the function's
  next n invokes answer a function error of that type without running (what a container
  answers for an unhandled exception), to see the local cloud treat it like an in-process
  one.

The environment is built the way SAM CLI 1.x builds a container's (samcli
`EnvironmentVariables.resolve`): only the variables the template declares for the function
(Globals included), each taking its value from the env-vars file (the function's entry,
over its ``Parameters`` entry), plus SAM's `AWS_*` runtime variables (region us-east-1,
credentials `defaultkey`/`defaultsecret`). A variable the template does not declare never
reaches the handler, as in a container. The env-vars file is read on the first invoke
(waiting for it: `runhook dev --sam-env` writes it once it is up). Each function gets its
own `Container.from_environment(<that environment>)`, as `create_handler()` builds one
from os.environ in a container.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from runhook_dev.devcloud.cfn import load_template
from runhook_dev.devcloud.containers import HandlerWiring
from runhook_dev.devcloud.invoker import INVOKE_PATH
from runhook_dev.devcloud.registry import FunctionRegistry, InvokeResult, LocalFunction

log = logging.getLogger("lambda-server")

SAM_RUNTIME_VARIABLES = {
    "AWS_SAM_LOCAL": "true",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "defaultkey",
    "AWS_SECRET_ACCESS_KEY": "defaultsecret",
}
_PREFIX, _SUFFIX = INVOKE_PATH.split("{name}")
ENV_FILE_WAIT_SECONDS = 60.0


def template_functions(template_path: Path) -> tuple[dict[str, LocalFunction], dict[str, set[str]]]:
    """The template's Python functions by logical id, and the variables each declares."""
    template = load_template(template_path)
    glob = (template.get("Globals") or {}).get("Function") or {}
    global_names = set((glob.get("Environment") or {}).get("Variables") or {})
    functions: dict[str, LocalFunction] = {}
    declared: dict[str, set[str]] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        if props.get("PackageType") == "Image":  # the image's Dockerfile folder holds the code
            metadata = resource.get("Metadata") or {}
            code = Path(str(metadata.get("Dockerfile", "Dockerfile"))).parent
            handler = ((props.get("ImageConfig") or {}).get("Command") or ["app.handler"])[0]
        else:
            code, handler = Path(str(props["CodeUri"])), props.get("Handler", "app.handler")
        functions[logical_id] = LocalFunction(
            name=logical_id,
            handler=str(handler),
            logical_id=logical_id,
            code_dir=(template_path.parent / code).resolve(),
            timeout_seconds=float(props.get("Timeout", glob.get("Timeout", 3))),
        )
        own = set((props.get("Environment") or {}).get("Variables") or {})
        declared[logical_id] = global_names | own
    return functions, declared


class SamLikeLambda:
    """The functions, their SAM-style environments and the invocation counts."""

    def __init__(self, template_path: Path, env_vars_path: Path) -> None:
        self.functions, self.declared = template_functions(template_path)
        self.env_vars_path = env_vars_path
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._env_vars: dict[str, Any] | None = None
        self.faults: dict[str, tuple[int, str]] = {}  # logical id → (count, errorType)
        self.registry = FunctionRegistry()
        for function in self.functions.values():
            self.registry.add(function)
        self.registry.resolve_handler = HandlerWiring(self._container, self.environment, _none)

    @staticmethod
    def _container(environment: Any, _session: Any) -> object:
        from runhook.bootstrap import Container

        return Container.from_environment(dict(environment))

    def env_vars(self) -> dict[str, Any]:
        """The env-vars file, read once (waiting until `runhook dev` has written it)."""
        with self._lock:
            deadline = time.monotonic() + ENV_FILE_WAIT_SECONDS
            while self._env_vars is None:
                if self.env_vars_path.is_file():
                    self._env_vars = json.loads(self.env_vars_path.read_text())
                elif time.monotonic() > deadline:
                    raise FileNotFoundError(f"no env-vars file {self.env_vars_path}")
                else:
                    time.sleep(0.1)
            return self._env_vars

    def environment(self, function: LocalFunction) -> dict[str, str]:
        """What SAM CLI gives the function's container (see the module docstring)."""
        file = self.env_vars()
        values = {**(file.get("Parameters") or {}), **(file.get(function.name) or {})}
        declared = self.declared[function.name]
        return {
            **SAM_RUNTIME_VARIABLES,
            **{name: str(values[name]) for name in declared if name in values},
        }

    def invoke(self, name: str, event: Any) -> InvokeResult | None:
        function = self.functions.get(name)
        if function is None:
            return None
        with self._lock:
            self.counts[name] += 1
            count, error_type = self.faults.get(name, (0, ""))
            if count:
                self.faults[name] = (count - 1, error_type)
        if count:
            log.info("%s: injected %s", name, error_type)
            message = {"errorMessage": "injected", "errorType": error_type, "stackTrace": []}
            return InvokeResult(message, error=True)
        return self.registry.invoke(function, event)


def _none() -> None:
    return None


def make_handler(runtime: SamLikeLambda) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug(format, *args)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/invocations":
                self._send(200, dict(runtime.counts))
            else:
                self._send(404, {"message": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path == "/faults":
                for name, fault in json.loads(body).items():
                    runtime.faults[name] = (int(fault["count"]), str(fault["errorType"]))
                self._send(200, runtime.faults)
                return
            if not (self.path.startswith(_PREFIX) and self.path.endswith(_SUFFIX)):
                self._send(404, {"message": "not found"})
                return
            name = unquote(self.path[len(_PREFIX) : -len(_SUFFIX)])
            if name not in runtime.functions:
                message = {"Type": "User", "Message": f"Function not found: {name}"}
                self._send(404, message, [("X-Amzn-ErrorType", "ResourceNotFoundException")])
                return
            event = json.loads(body) if body.strip() else {}
            kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            if kind == "DryRun":
                self._send(204, None)
            elif kind == "Event":
                threading.Thread(target=runtime.invoke, args=(name, event), daemon=True).start()
                self._send(202, None)
            else:
                result = runtime.invoke(name, event)
                assert result is not None
                extra = [("X-Amz-Function-Error", "Unhandled")] if result.error else []
                self._send(200, result.payload, extra)

        def _send(
            self, status: int, payload: Any, extra: list[tuple[str, str]] | None = None
        ) -> None:
            data = b"" if status in (202, 204) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra or []:
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--template", type=Path, required=True)
    parser.add_argument("--env-vars", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    runtime = SamLikeLambda(args.template.resolve(), args.env_vars)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(runtime))
    server.daemon_threads = True
    print(f"lambda endpoint: http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
