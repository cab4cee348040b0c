"""Rule files: the packaged rules load; malformed files give a ConfigError naming the problem."""

from __future__ import annotations

import pytest

from state.errors import ConfigError
from tools.policy.actions import ACTION_NAMES
from tools.policy.corpus import PolicyCorpus
from tools.policy.rules import load_rules, parse_rules

IDS = PolicyCorpus.load().ids()
GOOD_RULE = """
  - id: EXPORT-OK
    action: export_thread
    effect: allow
    sections: [POL-SHARE-3.1]
    reason: exports are fine in this test
"""


def rules_text(rules: str, default: str = "POL-ACCESS-2.2") -> str:
    return (
        f"version: t\ndefault:\n  sections: [{default}]\n  reason: denied by default\nrules:{rules}"
    )


def test_packaged_rules_cover_every_action_and_cite_real_sections() -> None:
    rules = load_rules(corpus_ids=IDS)
    assert {r.action for r in rules.rules} == set(ACTION_NAMES)
    assert rules.sections() <= IDS


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        (GOOD_RULE.replace("export_thread", "frobnicate"), "rules.0.action"),
        (GOOD_RULE.replace("allow", "needs_approval"), "needs_approval requires approver"),
        (GOOD_RULE + "    approvers: [admin]\n", "only needs_approval rules name approvers"),
        (GOOD_RULE.replace("allow", "deny") + "    restore_phi: true\n", "cannot restore"),
        (GOOD_RULE.replace("POL-SHARE-3.1", "POL-NOPE-9.9"), "not in the policy corpus"),
        (GOOD_RULE + GOOD_RULE, "appears twice"),
        (GOOD_RULE + "    colour: blue\n", "Extra inputs are not permitted"),
        (GOOD_RULE.replace("EXPORT-OK", "export ok"), "rules.0.id"),
        (GOOD_RULE.replace("allow", "maybe"), "rules.0.effect"),
        (GOOD_RULE + "    when: {roles: [surgeon]}\n", "rules.0.when.roles"),
        (" []", "rules: Tuple should have at least 1 item"),
    ],
)
def test_malformed_rules_are_a_config_error(rules: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_rules(rules_text(rules), corpus_ids=IDS)


def test_invalid_yaml_and_unreadable_files_are_config_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_rules("rules: [unclosed", corpus_ids=IDS)
    with pytest.raises(ConfigError, match="cannot read the policy rules"):
        load_rules(tmp_path / "missing.yaml", corpus_ids=IDS)
    with pytest.raises(ConfigError, match="top level"):
        parse_rules("- just a list", corpus_ids=IDS)
