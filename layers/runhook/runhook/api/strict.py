"""JSON bodies without NaN/Infinity: Python's parser accepts them, JSON does not.

A body with a non-finite number would be stored and then fail to serialise on the way
out; refusing it at parse time makes it a 400 `invalid_body` like any malformed JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999 overflows to inf
        raise ValueError(f"{text} is out of range")
    return value


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(
                await self.body(), parse_constant=_refuse_constant, parse_float=_finite_float
            )
        return self._json


class StrictJSONRoute(APIRoute):
    """The route class of every router: bodies are parsed by StrictJSONRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
