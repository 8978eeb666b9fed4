"""Bearer keys with scopes. Secrets are kept only as sha256 digests and compared in constant time.

Keys come from `FRAUDGATE_API_KEYS` (fixed for the life of the process) and from `FRAUDGATE_API_KEYS_FILE`, which
`KeyFileWatcher` re-reads when it changes: keys rotate without a restart. The file holds one key a line,

    # name:sha256:<hex of sha256(secret)>:scope[+scope]   (preferred: the secret never sits on disk)
    payments:sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08:decide
    # name:secret:scope[+scope]                           (accepted, as in FRAUDGATE_API_KEYS)
    ops:t0ken:decide+admin

A file that fails to parse is refused whole, with `file:line: problem`, and the keys already served stay.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from engine.errors import ConfigError, Forbidden, NotAuthenticated
from engine.filewatch import PollingWatcher
from engine.settings import SCOPES, ApiKey

log = logging.getLogger(__name__)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Authenticator:
    """Checks an `Authorization` header against the configured keys; `replace_file_keys` rotates the file's keys."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self._static = tuple(keys)
        self._keys = self._static

    def replace_file_keys(self, keys: Sequence[ApiKey]) -> None:
        """Serve the environment's keys plus `keys` from now on (one assignment: a request sees old or new)."""
        self._keys = self._static + tuple(keys)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the keys served now (for logs and tests; never the digests)."""
        return tuple(k.name for k in self._keys)

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


def parse_key_file(text: str, filename: str = "<keys>") -> tuple[ApiKey, ...]:
    """Parse a key file (see the module docstring); raises ConfigError naming `file:line` and never the secret.

    >>> [k.name for k in parse_key_file("a:sha256:" + "0" * 64 + ":decide\\n# c\\nb:s3cret:decide+admin")]
    ['a', 'b']
    """
    keys: list[ApiKey] = []
    seen: set[str] = set()
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        where = f"{filename}:{n}"
        if len(parts) == 4 and parts[1] == "sha256":
            name, _, hexdigest, scope_spec = parts
            if not _HEX64.match(hexdigest.lower()):
                raise ConfigError(f"{where}: `{name}`: the sha256 must be 64 hex digits")
            digest = bytes.fromhex(hexdigest)
        elif len(parts) == 3 and all(parts):
            name, secret, scope_spec = parts
            digest = hashlib.sha256(secret.encode()).digest()
        else:
            raise ConfigError(f"{where}: must read `name:sha256:<hex>:scope[+scope]` or `name:secret:scope[+scope]`")
        if not _NAME.match(name):
            raise ConfigError(f"{where}: key name must be 1-64 of [A-Za-z0-9._-]")
        if name in seen:
            raise ConfigError(f"{where}: key `{name}` appears twice")
        seen.add(name)
        scopes = frozenset(scope_spec.split("+"))
        if unknown := scopes - SCOPES:
            raise ConfigError(f"{where}: `{name}`: unknown scope {sorted(unknown)}; use {sorted(SCOPES)}")
        keys.append(ApiKey(name, digest, scopes))
    return tuple(keys)


def load_key_file(path: Path) -> tuple[ApiKey, ...]:
    """Read and parse the key file at `path`."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot be read ({type(e).__name__})") from None
    return parse_key_file(text, str(path))


class KeyFileWatcher(PollingWatcher):
    """Polls the key file (mtime and size every `interval_s`) and hands every good new version to `auth`.

    Each worker process runs its own watcher; the file is the shared truth. Start it from the lifespan:
    `watcher.load()` once (raises on a broken file: fail fast at start-up), then `watcher.start()`.
    """

    kind = "api key"

    def __init__(self, path: Path, auth: Authenticator, interval_s: float = 1.0) -> None:
        super().__init__(path, interval_s)
        self.auth = auth
        self._stat: tuple[int, int] | None = None

    def load(self) -> None:
        """Read the file now and serve its keys; a broken file raises ConfigError."""
        self._stat = self._stat_now()
        self.auth.replace_file_keys(load_key_file(self.path))

    def poll(self) -> bool:
        """One poll: True when the file changed and its keys are now served; a broken file keeps the old keys."""
        stat = self._stat_now()
        if stat is None or stat == self._stat:
            return False
        self._stat = stat
        try:
            keys = load_key_file(self.path)
        except ConfigError as e:
            log.warning("API key file refused, keeping the keys served: %s", e.detail)
            return False
        self.auth.replace_file_keys(keys)
        log.warning("API keys reloaded from %s: %d keys", self.path, len(keys))
        return True
