"""Policy rules as data: pydantic models of the YAML rule file, validated when it is loaded.

Usage:
    rules = load_rules(corpus_ids=PolicyCorpus.load().ids())    # tools/policy/rules.yaml
    [r.id for r in rules.for_action("share_with_patient")]

A rule names an action, optional conditions (requester roles, data classes, destinations and
request attributes, all of which must match; an absent condition matches anything), an effect
(`allow`, `deny` or `needs_approval`), the roles that may approve it, and the policy sections it
implements. Every section id must exist in the corpus, so citations always point somewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from state.errors import ConfigError
from state.schema import Effect, Role
from tools.policy.actions import ActionName, DataClass, Destination

RULES_FILE = Path(__file__).parent / "rules.yaml"
RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$")]
AttributeValue = bool | int | str


class Conditions(BaseModel):
    """What a request must look like for a rule to apply; `None` means any value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: tuple[Role, ...] | None = Field(default=None, min_length=1)
    data_classes: tuple[DataClass, ...] | None = Field(default=None, min_length=1)
    destinations: tuple[Destination, ...] | None = Field(default=None, min_length=1)
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)


class Rule(BaseModel):
    """One rule: action, conditions, effect, approvers and the sections it implements."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RuleId
    action: ActionName
    when: Conditions = Field(default_factory=Conditions)
    effect: Effect
    approvers: tuple[Role, ...] = ()
    restore_phi: bool = Field(
        default=False, description="a released copy may show the restored identifiers"
    )
    sections: tuple[str, ...] = Field(min_length=1)
    reason: str = Field(min_length=10)

    @model_validator(mode="after")
    def _approvers_match_effect(self) -> Rule:
        if self.effect == "needs_approval" and not self.approvers:
            raise ValueError(f"rule {self.id}: needs_approval requires approver roles")
        if self.effect != "needs_approval" and self.approvers:
            raise ValueError(f"rule {self.id}: only needs_approval rules name approvers")
        if self.effect == "deny" and self.restore_phi:
            raise ValueError(f"rule {self.id}: a deny rule cannot restore identifiers")
        return self


class DefaultRule(BaseModel):
    """What a request no rule covers gets: always a denial, citing these sections."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sections: tuple[str, ...] = Field(min_length=1)
    reason: str = Field(min_length=10)


class RuleSet(BaseModel):
    """A versioned rule file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    default: DefaultRule
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id} appears twice")
            seen.add(rule.id)
        return self

    def for_action(self, action: str) -> list[Rule]:
        """The rules of one action, in file order."""
        return [r for r in self.rules if r.action == action]

    def sections(self) -> set[str]:
        """Every section id the rules and the default cite."""
        return {s for r in self.rules for s in r.sections} | set(self.default.sections)


def parse_rules(text: str, *, where: str = "rules", corpus_ids: frozenset[str]) -> RuleSet:
    """Validate rule YAML; any problem is a `ConfigError` naming the place and the field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    try:
        rules = RuleSet.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'top level'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{where}: invalid rules: {problems}") from exc
    unknown = sorted(rules.sections() - corpus_ids)
    if unknown:
        raise ConfigError(f"{where}: rules cite sections not in the policy corpus: {unknown}")
    return rules


def load_rules(path: Path = RULES_FILE, *, corpus_ids: frozenset[str]) -> RuleSet:
    """Load and validate a rule file (the packaged `rules.yaml` by default)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the policy rules {path}: {exc}") from exc
    return parse_rules(text, where=str(path), corpus_ids=corpus_ids)
