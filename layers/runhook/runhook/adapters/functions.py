"""Lambda: hand work to a function asynchronously (InvocationType=Event).

Used by the API to carry on a filter-based bulk cancel in the background: the API
function invokes itself with `{"bulkCancelJob": <id>}` (docs/api-contract.md, "Bulk
cancel"). Lambda queues the event and retries a failed invocation twice; locally the
local cloud runs async invocations the same way (devcloud/async_invoke.py).
"""

from __future__ import annotations

import json
from typing import Any, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from runhook.aws import ClientOptions, LazyClient, unavailable


class AsyncInvoker:
    """Queues events for one function (`function_name`: settings.bulk_cancel_function)."""

    def __init__(self, function_name: str, **client: Unpack[ClientOptions]) -> None:
        self.function_name = function_name
        self._client = LazyClient("lambda", **client)

    def invoke(self, event: dict[str, Any]) -> None:
        """Queue `event`; ServiceUnavailable when Lambda does not take it."""
        try:
            self._client.get().invoke(
                FunctionName=self.function_name,
                InvocationType="Event",
                Payload=json.dumps(event).encode(),
            )
        except (ClientError, BotoCoreError) as exc:
            raise unavailable("lambda", exc) from exc
