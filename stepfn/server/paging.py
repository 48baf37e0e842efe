"""Opaque pagination tokens: where the next page starts, bound to the request that made them.

A token is ``base64url(JSON [position, fingerprint, issued]) + "." + HMAC``, signed with a
secret kept in the store, so a token survives a restart but cannot be forged, edited or
replayed against other arguments.  AWS's rules: keep every other argument unchanged, a
token lives 24 hours, and anything else is ``InvalidToken``.  No token on the last page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from stepfn.server.protocol import invalid_token

LIFETIME = 24 * 3600


class Pager:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._secret, body, hashlib.sha256).digest()[:18]).decode()

    @staticmethod
    def fingerprint(operation: str, args: dict[str, Any]) -> str:
        text = json.dumps([operation, args], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def issue(self, position: Any, fingerprint: str) -> str:
        body = json.dumps([position, fingerprint, int(time.time())], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + self._mac(body)

    def read(self, token: str, fingerprint: str) -> Any:
        """The position a token names (raises AWS's ``InvalidToken``)."""
        head, dot, mac = token.partition(".")
        try:
            body = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        except (ValueError, TypeError):
            raise invalid_token() from None
        if not dot or not hmac.compare_digest(mac, self._mac(body)):
            raise invalid_token()
        position, made_for, issued = json.loads(body)
        if made_for != fingerprint or time.time() - issued > LIFETIME:
            raise invalid_token()
        return position


def page_size(requested: int | None) -> int:
    """``maxResults``: 0 or absent means AWS's default of 100."""
    return 100 if not requested else int(requested)
