"""Card data at the edge (PCI DSS): authentication data is refused, a raw PAN never gets past decoding.

A `pan` sent by a caller is replaced by a keyed HMAC token (key from `FRAUDGATE_PAN_KEYS`, versioned so keys can
rotate: the token names its key version) plus its first 6 and last 4 digits; the raw value is dropped before the
event reaches rules, features, the log or a metric. CVV, track data and PINs are refused outright.
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec

from engine.errors import BadRequest, ConfigError

AUTH_DATA_FIELDS = frozenset({"cvv", "cvv2", "cvc", "cvc2", "cid", "track", "track1", "track2", "track_data",
                              "pin", "pin_block", "pinblock"})  # fmt: skip
"""Sensitive authentication data that may never be sent, stored or logged (PCI DSS requirement 3.2)."""


def luhn_ok(digits: str) -> bool:
    """True when `digits` passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class PanKeys:
    """Versioned HMAC keys; the last one tokenizes, all are kept so old tokens can still be recognised."""

    def __init__(self, spec: str) -> None:
        keys: list[tuple[str, bytes]] = []
        for n, entry in enumerate(filter(None, (e.strip() for e in spec.split(","))), start=1):
            version, _, secret = entry.partition(":")
            if not version or len(secret) < 16:
                raise ConfigError(
                    f"FRAUDGATE_PAN_KEYS entry {n} must read `version:secret` with a secret of 16+ characters"
                )
            keys.append((version, secret.encode()))
        self._keys = keys

    @property
    def enabled(self) -> bool:
        """True when a key is configured (without one, a `pan` is refused rather than stored)."""
        return bool(self._keys)

    def token(self, pan: str) -> str:
        """`<key version>:<hex HMAC-SHA256 of the PAN>` with the current key."""
        version, key = self._keys[-1]
        return f"{version}:{hmac.new(key, pan.encode(), hashlib.sha256).hexdigest()[:40]}"


def explain_refusal(error: msgspec.ValidationError) -> BadRequest:
    """A validation error, reworded when the unknown field is card authentication data."""
    text = str(error)
    if text.startswith("Object contains unknown field `"):
        name = text.split("`")[1]
        if name.lower() in AUTH_DATA_FIELDS:
            return BadRequest(f"`{name}` is card authentication data: it must never be sent (PCI DSS 3.2)")
    return BadRequest(text)
