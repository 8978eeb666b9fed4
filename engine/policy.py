"""Policies: the analysts' YAML (pre-policies, thresholds, fallback, test cases), checked and compiled once.

A file that fails any check is refused whole with `file:line: rule_name: problem`; the engine keeps what it had.
Pre-policies see only the event's own fields (they are the cheap gate before any Redis call); thresholds see the event
and the model's `score`, `calibrated` and `ecdf`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml
from msgspec import Meta

from engine.errors import ConfigError
from rules import CompiledExpr, FieldType, RuleError, Schema, compile_expr
from rules.implies import implies

Action = Literal["approve", "review", "deny"]
ACTION_RANK: dict[str, int] = {"approve": 0, "review": 1, "deny": 2}
"""Actions are ordered: approve < review < deny."""

MODEL_FIELDS: dict[str, FieldType] = {
    "score": FieldType.FLOAT,
    "calibrated": FieldType.FLOAT,
    "ecdf": FieldType.FLOAT,
}


class _Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Strict, immutable base of the policy file's parts."""


class PrePolicySpec(_Base, frozen=True, kw_only=True):
    """One pre-policy as the analyst wrote it."""

    name: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    """Unique name, snake_case; appears in decisions, logs and metrics."""
    when: str
    """Condition in the rule language over the event's fields."""
    action: Action
    """What a match decides."""
    mode: Literal["live", "shadow"] = "live"
    """`shadow`: evaluated, counted and logged, never acts."""
    description: str | None = None
    """Why the rule exists (for reviewers)."""


class ThresholdSpec(_Base, frozen=True, kw_only=True):
    """One row of the threshold table; the first match wins; the last row has no `when`."""

    action: Action
    """What a match decides."""
    when: str | None = None
    """Condition over `score`, `calibrated`, `ecdf` and event fields; absent on the final catch-all."""
    name: str | None = None
    """Optional name reported as the decision's `rule`; defaults to `threshold_<n>`."""


class FallbackSpec(_Base, frozen=True, kw_only=True):
    """One row of the fallback table: what decides when a stage fails or the budget runs out."""

    action: Action
    """Fail-open (`approve`) or fail-closed (`review`/`deny`)."""
    when: str | None = None
    """Condition over the event's fields (amount band, merchant category, channel ...); absent on the catch-all."""
    name: str | None = None
    """Reported as the decision's `rule`; defaults to `fallback_<n>`."""


class DecisionSpec(_Base, frozen=True):
    """Thresholds and fallback."""

    thresholds: Annotated[list[ThresholdSpec], Meta(min_length=1)]
    """The threshold table, in order."""
    fallback: FallbackSpec | list[FallbackSpec]
    """The documented fallback: one action, or a table (first match wins, ends with a catch-all)."""


class CaseExpect(_Base, frozen=True, kw_only=True):
    """What an analyst's case expects; only the keys given are compared."""

    action: Action | msgspec.UnsetType | None = msgspec.UNSET
    """The decided action (null: no pre-policy acts and the event carries no model score to decide on)."""
    rule: str | msgspec.UnsetType | None = msgspec.UNSET
    """The pre-policy (or threshold row, when the event carries `score`/`calibrated`/`ecdf`) that decides; null:
    no pre-policy acts."""
    shadow: list[str] | msgspec.UnsetType = msgspec.UNSET
    """The shadow rules that match (in policy order) before the deciding rule."""


class PolicyCase(_Base, frozen=True):
    """An analyst's test case: a (partial) event and the outcome expected."""

    event: dict[str, Any]
    """Event fields; absent ones are missing. Adding `score`, `calibrated` or `ecdf` runs the threshold table when
    no pre-policy acts."""
    expect: CaseExpect
    """`action`, `rule` and/or `shadow`."""


class PolicyFile(_Base, frozen=True, kw_only=True):
    """The whole YAML file."""

    event_type: str
    """Event type the policy serves."""
    version: Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=40)] | None = None
    """The analysts' own version label; the loaded version is `<version>+<digest>` (just the digest without it)."""
    sla_ms: Annotated[float, Meta(gt=0, le=10_000)]
    """Budget of one decision, in milliseconds."""
    pre_policies: list[PrePolicySpec] = []
    """Pre-policies in order; the first live match short-circuits."""
    decision: DecisionSpec
    """Thresholds and fallback."""
    tests: list[PolicyCase] = []
    """Test cases run by `fraudgate policies test`."""


class CompiledRule(msgspec.Struct, frozen=True):
    """A rule compiled once: its name, action, mode and predicate."""

    name: str
    action: Action
    shadow: bool
    predicate: CompiledExpr


class WouldDecide(msgspec.Struct, frozen=True):
    """What a policy would have decided for one event, without acting (shadow candidate policies)."""

    action: Action | None
    """The action; None when no pre-policy acts and no model scores were given (the model would decide)."""
    rule: str | None
    """The pre-policy or threshold row that decides; None as for `action`."""
    stage: Literal["pre_policy", "model"]
    """`pre_policy` when a live pre-policy acts, else `model`."""
    shadow: tuple[str, ...]
    """The candidate's own shadow rules that matched before the deciding rule."""


class Policy(msgspec.Struct, frozen=True):
    """A checked, compiled policy, ready to serve."""

    event_type: str
    version: str
    sla_ms: float
    pre_policies: tuple[CompiledRule, ...]
    thresholds: tuple[CompiledRule | tuple[str, Action], ...]
    fallbacks: tuple[CompiledRule | tuple[str, Action], ...]
    source: PolicyFile

    def pre_policy(self, row: Mapping[str, Any]) -> tuple[CompiledRule | None, list[str]]:
        """The first live pre-policy that matches `row` and every shadow one that matched before it."""
        shadow: list[str] = []
        for rule in self.pre_policies:
            if rule.predicate.row(row):
                if rule.shadow:
                    shadow.append(rule.name)
                    continue
                return rule, shadow
        return None, shadow

    def would_decide(self, row: Mapping[str, Any], scores: Mapping[str, float | None] | None = None) -> WouldDecide:
        """Evaluate this (candidate) policy on `row` as if it served it: pre-policies, then, with the model's
        `scores` (`score`, `calibrated`, `ecdf`) when given, the threshold table. Pure: nothing is logged or counted.
        """
        rule, shadow = self.pre_policy(row)
        if rule is not None:
            return WouldDecide(rule.action, rule.name, "pre_policy", tuple(shadow))
        if scores is None:
            return WouldDecide(None, None, "model", tuple(shadow))
        action, name = self.threshold({**row, **scores})
        return WouldDecide(action, name, "model", tuple(shadow))

    def threshold(self, row: Mapping[str, Any]) -> tuple[Action, str]:
        """The action of the first threshold row that matches (the table ends with a catch-all)."""
        return _first_match(self.thresholds, row)

    def fallback(self, row: Mapping[str, Any]) -> tuple[Action, str]:
        """The fallback for `row`: fail-open or fail-closed by the first matching row of the fallback table."""
        return _first_match(self.fallbacks, row)


def _first_match(table: tuple[CompiledRule | tuple[str, Action], ...], row: Mapping[str, Any]) -> tuple[Action, str]:
    for t in table:
        if isinstance(t, tuple):
            return t[1], t[0]
        if t.predicate.row(row):
            return t.action, t.name
    raise AssertionError("unreachable: tables end with a catch-all, checked at load")


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of each mapping, so errors can point at the rule."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = loader.construct_mapping(node, deep=True)  # type: ignore[assignment]
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def load_policy(path: Path, event_schema: Schema) -> Policy:
    """Read, check and compile one policy file; any problem raises ConfigError `file:line: rule: problem`."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read policy: {e.strerror}") from None
    return parse_policy(text, event_schema, filename=str(path))


def parse_policy(text: str, event_schema: Schema, *, filename: str = "<policy>") -> Policy:
    """Check and compile policy YAML `text`."""
    try:
        raw = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", -1) + 1
        raise ConfigError(f"{filename}:{line}: (file): invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{filename}:1: (file): a policy is a mapping with event_type, sla_ms, decision")
    try:
        spec = msgspec.convert(_strip_lines(raw), PolicyFile)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{filename}:{_line_of(raw, str(e))}: (file): {e}") from None
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    version = f"{spec.version}+{digest}" if spec.version else digest

    def fail(item: dict[str, Any], name: str, problem: str) -> ConfigError:
        return ConfigError(f"{filename}:{item.get('__line__', 0)}: {name}: {problem}")

    def fail_at(line: int, name: str, problem: str) -> ConfigError:
        return ConfigError(f"{filename}:{line}: {name}: {problem}")

    pre: list[CompiledRule] = []
    lines: list[int] = []
    seen: set[str] = set()
    for item, rule in zip(raw.get("pre_policies") or [], spec.pre_policies, strict=True):
        if rule.name in seen:
            raise fail(item, rule.name, "duplicate rule name")
        seen.add(rule.name)
        try:
            expr = compile_expr(rule.when, event_schema, expect=FieldType.BOOL)
        except RuleError as e:
            raise fail(item, rule.name, str(e)) from None
        pre.append(CompiledRule(rule.name, rule.action, rule.mode == "shadow", expr))
        lines.append(int(item.get("__line__", 0)))
    _refuse_unreachable(pre, lines, fail_at)

    thresholds = _table(
        raw["decision"]["thresholds"], spec.decision.thresholds, {**event_schema, **MODEL_FIELDS}, "threshold", fail
    )
    fallback_raw = raw["decision"]["fallback"]
    fallback_specs = spec.decision.fallback if isinstance(spec.decision.fallback, list) else [spec.decision.fallback]
    fallback_items = fallback_raw if isinstance(fallback_raw, list) else [fallback_raw]
    fallbacks = _table(fallback_items, fallback_specs, event_schema, "fallback", fail)
    return Policy(
        event_type=spec.event_type,
        version=version,
        sla_ms=spec.sla_ms,
        pre_policies=tuple(pre),
        thresholds=thresholds,
        fallbacks=fallbacks,
        source=spec,
    )


def _table(
    items: list[dict[str, Any]],
    specs: Sequence[ThresholdSpec | FallbackSpec],
    schema: Schema,
    kind: str,
    fail: Any,
) -> tuple[CompiledRule | tuple[str, Action], ...]:
    """Compile a first-match-wins table whose last row, and only it, has no `when`."""
    if not specs:
        raise fail({}, f"decision.{kind}", "the table is empty; end it with a catch-all row without `when`")
    rows: list[CompiledRule | tuple[str, Action]] = []
    lines: list[int] = []
    for n, (item, t) in enumerate(zip(items, specs, strict=True), start=1):
        name = t.name or f"{kind}_{n}"
        if t.when is None:
            if n != len(specs):
                raise fail(item, name, "a row without `when` catches everything: the rows after it can never act")
            rows.append((name, t.action))
            continue
        try:
            expr = compile_expr(t.when, schema, expect=FieldType.BOOL)
        except RuleError as e:
            raise fail(item, name, str(e)) from None
        rows.append(CompiledRule(name, t.action, False, expr))
        lines.append(int(item.get("__line__", 0)))
    _refuse_unreachable(
        [r for r in rows if isinstance(r, CompiledRule)],
        lines,
        lambda line, name, problem: fail({"__line__": line}, name, problem),
    )
    if not isinstance(rows[-1], tuple):
        plural = "thresholds" if kind == "threshold" else "fallback"
        raise fail(items[-1], f"decision.{plural}", "the table must end with a catch-all row without `when`")
    return tuple(rows)


def _refuse_unreachable(rules: Sequence[CompiledRule], lines: Sequence[int], fail: Any) -> None:
    """Refuse a rule that can never act because an earlier live rule provably matches every event it matches.

    "Provably" is `rules.implies.implies`: an earlier condition that is always true, the same condition, or simple
    forms where the later condition implies the earlier one (ranges on one field, `in` lists that are subsets, ...).
    A shadow rule after such a live rule is refused too: it would never even be evaluated. An earlier shadow rule
    never wins, so it hides nothing.
    """
    for j, later in enumerate(rules):
        for i in range(j):
            earlier = rules[i]
            if not earlier.shadow and implies(later.predicate.node, earlier.predicate.node):
                raise fail(
                    lines[j],
                    later.name,
                    f"can never act: the earlier rule `{earlier.name}` (line {lines[i]}) matches every event this "
                    f"one matches (`{earlier.predicate.source}`); reorder, narrow or remove one of them",
                )


def _line_of(raw: dict[str, Any], message: str) -> int:
    """Best-effort line for a schema error at `$.pre_policies[2].action`: the line of the innermost mapping."""
    import re

    node: Any = raw
    line = int(raw.get("__line__", 1))
    for key, idx in re.findall(r"\.([A-Za-z_]+)|\[(\d+)\]", message.split(" - at ")[-1]):
        try:
            node = node[key] if key else node[int(idx)]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict):
            line = int(node.get("__line__", line))
    return line
