"""Structured logs: one JSON object a line (`ts`, `level`, `logger`, `msg`, `request_id`, extras), no card data.

The request id of the request being served lives in a context variable set by the app's middleware, so every line
logged while serving it carries the id without being passed around. Any run of 12-19 digits that passes the Luhn
check is masked in the message and the extras before the line is written: a card number that slips into a log
call by mistake still does not reach the log.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import uuid
from typing import Any

import msgspec

from engine.carddata import luhn_ok

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("fraudgate_request_id", default=None)
"""The id of the request being served on this task (None outside a request)."""

REQUEST_ID_HEADER = "x-request-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_DIGITS = re.compile(r"(?<![0-9])[0-9][0-9 -]{10,30}[0-9](?![0-9])")
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}
_encoder = msgspec.json.Encoder()


def request_id_from(header: str | None) -> str:
    """The caller's `X-Request-ID` when it is 1-128 of `[A-Za-z0-9._:-]`, otherwise a fresh one."""
    if header and _VALID_ID.match(header):
        return header
    return uuid.uuid4().hex


def mask_pans(text: str) -> str:
    """`text` with every Luhn-valid 12-19 digit number (spaces and dashes allowed) replaced by `[pan]`."""

    def _mask(m: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", m.group(0))
        return "[pan]" if 12 <= len(digits) <= 19 and luhn_ok(digits) else m.group(0)

    return _DIGITS.sub(_mask, text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; extras passed with `extra={...}` become fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_pans(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            out["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = mask_pans(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exc"] = mask_pans(self.formatException(record.exc_info))
        try:
            return _encoder.encode(out).decode()
        except (TypeError, msgspec.EncodeError):
            # an extra msgspec cannot encode: its repr, still on one line
            plain = {k: v if isinstance(v, str | int | float | bool) else mask_pans(repr(v)) for k, v in out.items()}
            return _encoder.encode(plain).decode()


def configure_logging(level: str = "INFO") -> None:
    """Send every logger (ours, uvicorn's, litestar's) through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
