"""One side of a what-if: the policy file and the model bundle that decide, loaded and checked once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.context import current_model_path, event_schema
from engine.errors import ConfigError
from engine.policy import Policy, load_policy
from models import Bundle, load_bundle


@dataclass(frozen=True)
class Config:
    """A configuration to replay: compiled policy and (optional) model bundle."""

    label: str
    """`baseline` or `candidate`: prefixes its result columns."""
    policy: Policy
    """The compiled policy (pre-policies, thresholds, fallbacks)."""
    bundle: Bundle | None
    """The model; None means every survivor of the pre-policies gets the fallback, as live without a model."""
    policy_path: Path
    """Where the policy came from (for the report)."""


def resolve_model(path: Path | None, model_dir: Path) -> Path | None:
    """A bundle folder: `path` itself, a version name inside `model_dir`, or the registry's CURRENT when None."""
    if path is None:
        return current_model_path(model_dir)
    if (path / "manifest.json").exists():
        return path
    if (model_dir / path / "manifest.json").exists():
        return model_dir / path
    if (path / "CURRENT").exists():
        return current_model_path(path)
    raise ConfigError(f"model {path}: neither a bundle folder, a version in {model_dir}, nor a registry with CURRENT")


def load_config(label: str, policy_path: Path, model_path: Path | None) -> Config:
    """Load and check one side; a broken policy or bundle raises ConfigError naming the file."""
    policy = load_policy(policy_path, event_schema())
    bundle = None
    if model_path is not None:
        try:
            bundle = load_bundle(model_path)
        except Exception as e:
            raise ConfigError(f"model bundle {model_path}: {e}") from e
    return Config(label=label, policy=policy, bundle=bundle, policy_path=policy_path)
