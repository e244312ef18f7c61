"""Load generators, run as their own process so they do not share the cloud's interpreter.

    python -m benchmarks.loadgen '<json config>'   → one JSON result on stdout

- ``{"mode": "api", "base": ..., "key": ..., "task": ..., "clients": N, "seconds": S,
  "mix": "post" | "mixed"}``: N concurrent clients (httpx, asyncio) against the API.
  "post": POST /tasks/{id}/runs with a fresh clientRequestId, again and again; "mixed":
  POST a run, GET it, GET its logs, again and again.
- ``{"mode": "dynamodb", "endpoint": ..., "region": ..., "templates": [...], "clients": N,
  "seconds": S}``: N threads, each with its own boto3 client, sending TransactWriteItems
  made from the templates (captured from the API's own transactions) with fresh ids.

Result: ``{"elapsed": s, "ops": {name: [latency ms, ...]}, "errors": {status: n}}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

RUN_ID = "{RUN_ID}"
REQUEST_ID = "{CLIENT_REQUEST_ID}"


async def _api(config: dict[str, Any]) -> dict[str, Any]:
    import httpx

    base, task, clients = config["base"], config["task"], int(config["clients"])
    mixed = config.get("mix") == "mixed"
    headers = {"Authorization": f"Bearer {config['key']}"}
    ops: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:
        deadline = time.perf_counter() + float(config["seconds"])

        async def timed(name: str, method: str, url: str, **kw: Any) -> httpx.Response | None:
            started = time.perf_counter()
            try:
                answer = await http.request(method, url, **kw)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                return None
            ops[name].append((time.perf_counter() - started) * 1000)
            if answer.status_code >= 300:
                errors[f"{name} {answer.status_code}"] += 1
                return None
            return answer

        async def worker() -> None:
            while time.perf_counter() < deadline:
                created = await timed(
                    "POST run",
                    "POST",
                    f"/tasks/{task}/runs",
                    json={"clientRequestId": str(uuid.uuid4())},
                )
                if not mixed or created is None:
                    continue
                run_id = created.json()["run"]["id"]
                await timed("GET run", "GET", f"/task-runs/{run_id}")
                await timed("GET logs", "GET", f"/task-runs/{run_id}/logs")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return {"elapsed": elapsed, "ops": dict(ops), "errors": dict(errors)}


def make_template(params: dict[str, Any]) -> str | None:
    """A create-run TransactWriteItems as a template: its run id and clientRequestId become
    placeholders. None for any other transaction."""
    run_id = request_id = None
    for entry in params.get("TransactItems") or []:
        pk = str(((entry.get("Put") or {}).get("Item") or {}).get("pk", {}).get("S", ""))
        if pk.startswith("RUN#"):
            run_id = pk.removeprefix("RUN#")
        elif pk.startswith("IDEMP#"):
            request_id = pk.rsplit("#", 1)[1]
    if not run_id:
        return None
    # botocore fills ClientRequestToken itself: a fresh one per call.
    kept = {
        k: v for k, v in params.items() if k not in {"ReturnConsumedCapacity", "ClientRequestToken"}
    }
    text = json.dumps(kept).replace(run_id, RUN_ID)
    return text.replace(request_id, REQUEST_ID) if request_id else text


def fill(template: str) -> dict[str, Any]:
    """A transaction from a captured template, with a fresh run id and clientRequestId."""
    text = template.replace(RUN_ID, str(uuid.uuid4())).replace(REQUEST_ID, str(uuid.uuid4()))
    return dict(json.loads(text))


def _dynamodb(config: dict[str, Any]) -> dict[str, Any]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    templates: list[str] = list(config["templates"])
    clients = int(config["clients"])
    session = boto3.session.Session(
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - DynamoDB Local accepts any key
        region_name=config["region"],
    )
    made = [
        session.client(
            "dynamodb",
            endpoint_url=config["endpoint"],
            config=Config(retries={"max_attempts": 1}, max_pool_connections=2),
        )
        for _ in range(clients)
    ]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.perf_counter() + float(config["seconds"])

    def worker(index: int) -> None:
        client = made[index]
        done: list[float] = []
        failed: Counter[str] = Counter()
        count = index
        while time.perf_counter() < deadline:
            params = fill(templates[count % len(templates)])
            count += 1
            started = time.perf_counter()
            try:
                client.transact_write_items(**params)
            except ClientError as exc:
                failed[str(exc.response.get("Error", {}).get("Code"))] += 1
                continue
            done.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(done)
            errors.update(failed)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return {"elapsed": elapsed, "ops": {"TransactWriteItems": latencies}, "errors": dict(errors)}


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    if config["mode"] == "api":
        result = asyncio.run(_api(config))
    elif config["mode"] == "dynamodb":
        result = _dynamodb(config)
    else:
        raise SystemExit(f"unknown mode {config['mode']!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
