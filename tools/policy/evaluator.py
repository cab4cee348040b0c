"""The deterministic policy evaluator: a request and the rules in, a `PolicyDecision` out.

Usage:
    evaluator = PolicyEvaluator(load_rules(corpus_ids=corpus.ids()))
    decision = evaluator.evaluate(ActionRequest(action="export_thread", role="clinician",
                                                data_class="phi", destination="local_file"))
    decision.effect, decision.rule_ids, decision.approvers   # 'needs_approval', (...), ('admin',)

No model is called. Every matching rule of the action counts, and effects combine
deny > needs_approval > allow, so a deny always wins a conflict. Several needs_approval rules
require an approver whose role all of them name; when they name no common role the request is
denied. A request that no rule matches gets the rule file's default: deny.
"""

from __future__ import annotations

from state.roles import ROLES
from state.schema import Effect
from tools.policy.rules import AttributeValue, Rule, RuleSet
from tools.policy.schema import ActionRequest, PolicyDecision

PRECEDENCE: tuple[Effect, ...] = ("deny", "needs_approval", "allow")
DEFAULT_RULE_ID = "DEFAULT-DENY"


def _same(expected: AttributeValue, actual: AttributeValue | None) -> bool:
    """Equal values of the same type (so `true` never matches `1`)."""
    return type(expected) is type(actual) and expected == actual


def rule_matches(rule: Rule, request: ActionRequest) -> bool:
    """Whether every condition of `rule` holds for `request`."""
    when = rule.when
    return (
        rule.action == request.action
        and (when.roles is None or request.role in when.roles)
        and (when.data_classes is None or request.data_class in when.data_classes)
        and (when.destinations is None or request.destination in when.destinations)
        and all(_same(v, request.attributes.get(k)) for k, v in when.attributes.items())
    )


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


class PolicyEvaluator:
    """Evaluates requests against one rule set."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules

    def evaluate(self, request: ActionRequest) -> PolicyDecision:
        """The decision for `request`; deny wins, and nothing matching means deny."""
        matched = [r for r in self.rules.for_action(request.action) if rule_matches(r, request)]
        if not matched:
            default = self.rules.default
            return PolicyDecision(
                effect="deny",
                rule_ids=(DEFAULT_RULE_ID,),
                sections=default.sections,
                reason=default.reason,
            )
        effect = next(e for e in PRECEDENCE if any(r.effect == e for r in matched))
        winners = [r for r in matched if r.effect == effect]
        rule_ids = _unique([r.id for r in winners])
        sections = _unique([s for r in winners for s in r.sections])
        reason = "; ".join(_unique([r.reason for r in winners]))
        if effect != "needs_approval":
            return PolicyDecision(
                effect=effect,
                rule_ids=rule_ids,
                sections=sections,
                reason=reason,
                restore_phi=effect == "allow" and all(r.restore_phi for r in winners),
            )
        approvers = tuple(role for role in ROLES if all(role in r.approvers for r in winners))
        if not approvers:
            return PolicyDecision(
                effect="deny",
                rule_ids=rule_ids,
                sections=sections,
                reason=f"{reason}; and these rules name no approver role in common",
            )
        return PolicyDecision(
            effect=effect,
            rule_ids=rule_ids,
            sections=sections,
            reason=reason,
            approvers=approvers,
            restore_phi=all(r.restore_phi for r in winners),
        )
