"""One root exception for the engine; each error knows its HTTP status.

The mapping from error to response lives in one place (`engine.app._error_handler`), so a handler never builds an
error body by hand and a client's mistake can never surface as a 500.
"""

from __future__ import annotations


class FraudgateError(Exception):
    """Root of every error the engine raises on purpose."""

    status_code: int = 500
    """HTTP status the error maps to when it reaches the edge."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigError(FraudgateError):
    """Settings, policies or model cannot be loaded; raised at start-up or reload, never per request."""


class ReloadRefused(FraudgateError):
    """A reload found a broken policy or bundle; the running versions stay. `detail` says `file:line: rule: problem`."""

    status_code = 422


class BadRequest(FraudgateError):
    """The body is not what the contract says; `detail` names the field and the problem."""

    status_code = 422


class NotAuthenticated(FraudgateError):
    """No bearer key, or an unknown one."""

    status_code = 401


class Forbidden(FraudgateError):
    """A known key without the scope the route needs."""

    status_code = 403


class NotReady(FraudgateError):
    """Policies, model or Redis are not available yet."""

    status_code = 503
