"""A run's tags and metadata, checked before anything is written (issue 14).

Pure functions: the run service calls them before the create transaction, so a bad
value is a 400 that names the problem (`invalid_tags`, `invalid_metadata`, with
`errors`) and changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from runhook.errors import InvalidRequest
from runhook.models import MAX_MERGED_TAGS, MAX_METADATA_BYTES, MAX_TAGS, TAG_PATTERN

_TAG = re.compile(TAG_PATTERN)


def tag_problems(tags: Sequence[Any], path: str = "tags") -> list[dict[str, str]]:
    """What is wrong with `tags` (empty when nothing is)."""
    problems: list[dict[str, str]] = []
    if len(tags) > MAX_TAGS:
        problems.append({"path": path, "message": f"at most {MAX_TAGS} tags"})
    for position, tag in enumerate(tags):
        if not isinstance(tag, str) or not _TAG.fullmatch(tag):
            problems.append(
                {
                    "path": f"{path}[{position}]",
                    "message": "1-64 characters: letters, digits and _ . : / = + @ -, "
                    "starting with a letter or digit",
                }
            )
    return problems


def merged_tags(own: Sequence[str] | None, defaults: Sequence[str]) -> list[str]:
    """The run's tags: its task's defaults, then its own, each once (first seen wins).

    Raises InvalidRequest("invalid_tags") when its own are bad or the union is too long.
    """
    own = list(own or [])
    problems = tag_problems(own)
    if problems:
        raise InvalidRequest("invalid_tags", errors=problems)
    merged = list(dict.fromkeys([*defaults, *own]))
    if len(merged) > MAX_MERGED_TAGS:
        message = f"at most {MAX_MERGED_TAGS} with the task's default tags"
        raise InvalidRequest("invalid_tags", errors=[{"path": "tags", "message": message}])
    return merged


def checked_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The run's metadata (a JSON object of at most 4 KB encoded), or InvalidRequest."""
    if metadata is None:
        return {}
    size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        message = f"{size} bytes of JSON; at most {MAX_METADATA_BYTES}"
        raise InvalidRequest("invalid_metadata", errors=[{"path": "metadata", "message": message}])
    return metadata
