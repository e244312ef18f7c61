"""ApiFunction: the public REST API behind API Gateway (HTTP API, payload v2).

It also works through filter-based bulk cancels in the background: the API queues
`{"bulkCancelJob": <id>}` to this same function asynchronously (issue 14,
runhook.services.bulk_cancel), so no other function or queue is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from mangum import Mangum

from runhook.api.app import create_app
from runhook.bootstrap import Container

logger = Logger()


def create_handler(container: Container | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """The Lambda handler on `container` (default: this function's environment)."""
    container = container or Container.from_environment()
    mangum = Mangum(create_app(container), lifespan="off")

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if "bulkCancelJob" in event:  # our own async invocation, not an HTTP request
            return work_bulk_cancel(container, str(event["bulkCancelJob"]), context)
        _ensure_event_loop()
        return mangum(event, context)  # type: ignore[arg-type]

    return handler


def _ensure_event_loop() -> None:
    """Mangum drives the app with `asyncio.get_event_loop()`, which raises when this thread
    has no current loop: a thread other than the main one, or the main thread after
    something cleared it (`asyncio.run` does). Lambda's runtime never does either; an
    in-process caller (the local cloud, the sample-event tests) may."""
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def work_bulk_cancel(container: Container, job_id: str, context: Any) -> dict[str, Any]:
    """Carry a bulk-cancel job on for as long as this invocation's time allows."""
    job = container.bulk_cancel_service.work(
        job_id, lambda: context.get_remaining_time_in_millis() / 1000.0
    )
    logger.info("bulk cancel worked", extra={"jobId": job_id, "job": job and job.to_resource()})
    return {"jobId": job_id, "status": job.status if job else None}


handler = create_handler()
