"""Admin routes of the model registry: promote, roll back, set the challenger; each reloads without a restart."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, post

from engine.errors import BadRequest, FraudgateError
from models.errors import ModelsError
from models.registry import Registry


class VersionBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of promote and challenger."""

    version: str | None
    """A bundle version in the registry (`null` clears the challenger)."""


def _body(raw: bytes) -> VersionBody:
    try:
        return msgspec.json.decode(raw, type=VersionBody)
    except msgspec.DecodeError as e:
        raise BadRequest(str(e)) from None


def _apply(request: Request[Any, Any, Any], change: Any) -> dict[str, Any]:
    ctx = request.app.state.ctx
    try:
        change(Registry(ctx.settings.model_dir))
    except ModelsError as e:
        raise RegistryRefused(str(e)) from None
    loaded = ctx.reload()
    return {
        "model_version": loaded.bundle.manifest.version if loaded.bundle else None,
        "challenger_version": loaded.challenger.manifest.version if loaded.challenger else None,
    }


class RegistryRefused(FraudgateError):
    """The registry refused the change (unknown version, bundle failing its digests, empty history)."""

    status_code = 409


def admin_routes(guard: Any, security: Any, documented: Any, auth_errors: tuple[int, ...]) -> list[Any]:
    """The registry's admin routes, behind the `admin` scope `guard`, documented for OpenAPI with `documented`."""
    with_body = {"guards": [guard], "security": security, "status_code": 200,
                 "operation_class": documented("VersionBody", None, (*auth_errors, 409, 422))}  # fmt: skip
    without_body = {**with_body, "operation_class": documented(None, None, (*auth_errors, 409))}

    @post("/v1/admin/models/promote", **with_body)
    async def promote(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Verify a version and serve it as champion; the old one goes to the history."""
        body = _body(await request.body())
        if body.version is None:
            raise BadRequest("version: a version to promote is required - at `$.version`")
        version = body.version
        return _apply(request, lambda reg: reg.promote(version))

    @post("/v1/admin/models/rollback", sync_to_thread=False, **without_body)
    def rollback(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Serve the previous champion again."""
        return _apply(request, lambda reg: reg.rollback())

    @post("/v1/admin/models/challenger", **with_body)
    async def challenger(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Set (or, with `null`, clear) the challenger that scores in shadow."""
        body = _body(await request.body())
        return _apply(request, lambda reg: reg.set_challenger(body.version))

    return [promote, rollback, challenger]
