"""Bearer keys with scopes. Secrets are kept only as sha256 digests and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from engine.errors import Forbidden, NotAuthenticated
from engine.settings import ApiKey


class Authenticator:
    """Checks an `Authorization` header against the configured keys."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self._keys = tuple(keys)

    def check(self, header: str | None, scope: str) -> str:
        """The key's name when `header` carries a known key with `scope`; raises 401 or 403 otherwise."""
        if not header or not header.startswith("Bearer "):
            raise NotAuthenticated("missing `Authorization: Bearer <key>` header")
        digest = hashlib.sha256(header[7:].strip().encode()).digest()
        found: ApiKey | None = None
        # every key is compared, so the time taken does not tell which one nearly matched
        for key in self._keys:
            if hmac.compare_digest(digest, key.secret_sha256):
                found = key
        if found is None:
            raise NotAuthenticated("unknown API key")
        if scope not in found.scopes:
            raise Forbidden(f"key `{found.name}` lacks the `{scope}` scope")
        return found.name
