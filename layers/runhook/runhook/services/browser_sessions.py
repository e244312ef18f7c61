"""Forgetting a saved browser session (scope `admin`): the next step that names it starts
signed out. Sessions are scoped to the organization by their storage key, so another
organization's session of the same name is simply not found."""

from __future__ import annotations

import re

from runhook.adapters.browser_sessions import S3BrowserSessions
from runhook.errors import InvalidRequest, NotFound
from runhook.models import Principal
from runhook.tasks.definition import BROWSER_SESSION_NAME

_NAME = re.compile(BROWSER_SESSION_NAME)


class BrowserSessionService:
    def __init__(self, store: S3BrowserSessions) -> None:
        self.store = store

    def delete(self, principal: Principal, name: str) -> None:
        if not _NAME.match(name):
            raise InvalidRequest("invalid_session_name")
        if not self.store.delete(principal.org_id, name):
            raise NotFound("browser_session_not_found")
