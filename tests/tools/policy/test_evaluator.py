"""The evaluator over the packaged rules (every rule decides at least one row) and conflicts."""

from __future__ import annotations

import pytest

from tools.policy.corpus import PolicyCorpus
from tools.policy.evaluator import DEFAULT_RULE_ID, PolicyEvaluator
from tools.policy.rules import load_rules, parse_rules
from tools.policy.schema import ActionRequest

IDS = PolicyCorpus.load().ids()
RULES = load_rules(corpus_ids=IDS)
EVALUATOR = PolicyEvaluator(RULES)
SIGNED, UNSIGNED = {"report_signed": True}, {"report_signed": False}

# (action, role, data class, destination, attributes) → (effect, rule ids, approvers)
TABLE = [
    ("finalize_radiology_report", "clinician", "phi", "thread", UNSIGNED,
     "needs_approval", ("FINAL-CLINICIAN-SIGNOFF",), ("clinician",)),
    ("finalize_radiology_report", "trainee", "deidentified", "thread", UNSIGNED,
     "needs_approval", ("FINAL-CLINICIAN-SIGNOFF",), ("clinician",)),
    ("finalize_radiology_report", "admin", "phi", "thread", UNSIGNED,
     "deny", ("FINAL-ADMIN-DENY",), ()),
    ("finalize_radiology_report", "clinician", "phi", "thread", SIGNED,
     "deny", ("FINAL-SIGNED-DENY",), ()),
    ("finalize_radiology_report", "admin", "phi", "thread", SIGNED,
     "deny", ("FINAL-ADMIN-DENY", "FINAL-SIGNED-DENY"), ()),
    ("share_with_patient", "clinician", "phi", "patient_outbox", SIGNED,
     "needs_approval", ("SHARE-OUTBOX-APPROVAL",), ("clinician",)),
    ("share_with_patient", "clinician", "phi", "email", SIGNED,
     "deny", ("SHARE-CHANNEL-DENY",), ()),
    ("share_with_patient", "clinician", "deidentified", "messaging", SIGNED,
     "deny", ("SHARE-CHANNEL-DENY",), ()),
    ("share_with_patient", "clinician", "phi", "patient_outbox", UNSIGNED,
     "deny", ("SHARE-UNSIGNED-DENY",), ()),
    ("share_with_patient", "trainee", "phi", "patient_outbox", SIGNED,
     "deny", ("SHARE-TRAINEE-DENY",), ()),
    ("share_with_patient", "trainee", "phi", "external", UNSIGNED,
     "deny", ("SHARE-CHANNEL-DENY", "SHARE-UNSIGNED-DENY", "SHARE-TRAINEE-DENY"), ()),
    ("share_with_patient", "admin", "phi", "patient_outbox", SIGNED,
     "deny", (DEFAULT_RULE_ID,), ()),
    ("export_thread", "clinician", "deidentified", "local_file", {},
     "allow", ("EXPORT-DEID-ALLOW",), ()),
    ("export_thread", "admin", "phi", "local_file", {},
     "needs_approval", ("EXPORT-PHI-APPROVAL",), ("admin",)),
    ("export_thread", "clinician", "phi", "external", {},
     "deny", ("EXPORT-EXTERNAL-DENY",), ()),
    ("export_thread", "trainee", "deidentified", "local_file", {},
     "deny", ("EXPORT-TRAINEE-DENY",), ()),
    ("erase_learner_data", "trainee", "personal", "learner_store", {"subject": "self"},
     "needs_approval", ("ERASE-ADMIN-APPROVAL",), ("admin",)),
    ("erase_learner_data", "admin", "personal", "learner_store", {"subject": "other"},
     "needs_approval", ("ERASE-ADMIN-APPROVAL",), ("admin",)),
    # A conflict in the shipped rules: ERASE-ADMIN-APPROVAL matches too, and deny wins.
    ("erase_learner_data", "clinician", "personal", "learner_store", {"subject": "other"},
     "deny", ("ERASE-OTHER-DENY",), ()),
]  # fmt: skip


@pytest.mark.parametrize(
    (
        "action",
        "role",
        "data_class",
        "destination",
        "attributes",
        "effect",
        "rule_ids",
        "approvers",
    ),
    TABLE,
)
def test_decision_table(action, role, data_class, destination, attributes, effect, rule_ids,
                        approvers) -> None:  # fmt: skip
    decision = EVALUATOR.evaluate(
        ActionRequest(
            action=action,
            role=role,
            data_class=data_class,
            destination=destination,
            attributes=attributes,
        )
    )
    assert (decision.effect, decision.rule_ids, decision.approvers) == (effect, rule_ids, approvers)
    assert decision.sections and set(decision.sections) <= IDS
    assert decision.reason


def test_every_packaged_rule_decides_some_row_of_the_table() -> None:
    deciding = {rule_id for row in TABLE for rule_id in row[6]}
    assert {r.id for r in RULES.rules} <= deciding


def test_the_patient_copy_rule_allows_restoring_identifiers_and_no_deny_does() -> None:
    share = EVALUATOR.evaluate(
        ActionRequest(
            action="share_with_patient",
            role="clinician",
            data_class="phi",
            destination="patient_outbox",
            attributes=SIGNED,
        )
    )
    assert share.restore_phi
    export = EVALUATOR.evaluate(
        ActionRequest(
            action="export_thread", role="admin", data_class="phi", destination="local_file"
        )
    )
    assert not export.restore_phi


CONFLICTS = """version: t
default: {sections: [POL-ACCESS-2.2], reason: denied by default}
rules:
  - {id: A-ALLOW, action: export_thread, effect: allow, sections: [POL-SHARE-3.1],
     reason: allowed for everyone}
  - {id: A-DENY, action: export_thread, when: {roles: [trainee]}, effect: deny,
     sections: [POL-ACCESS-3.2], reason: trainees may not}
  - {id: A-ASK, action: export_thread, when: {data_classes: [phi]}, effect: needs_approval,
     approvers: [clinician, admin], sections: [POL-SHARE-3.2], reason: phi needs approval}
  - {id: A-ASK-ADMIN, action: export_thread, when: {destinations: [local_file]},
     effect: needs_approval, approvers: [admin], sections: [POL-SHARE-3.2],
     reason: local files need an admin}
  - {id: B-ASK-CLIN, action: erase_learner_data, effect: needs_approval,
     approvers: [clinician], sections: [POL-RET-4.2], reason: clinician approves}
  - {id: B-ASK-ADMIN, action: erase_learner_data, effect: needs_approval,
     approvers: [admin], sections: [POL-RET-4.2], reason: admin approves}
  - {id: C-ATTR, action: finalize_radiology_report, when: {attributes: {report_signed: true}},
     effect: allow, sections: [POL-AIUSE-3.3], reason: typed attribute match}
"""


def conflicts() -> PolicyEvaluator:
    return PolicyEvaluator(parse_rules(CONFLICTS, corpus_ids=IDS))


def test_deny_wins_over_allow_and_needs_approval() -> None:
    decision = conflicts().evaluate(
        ActionRequest(
            action="export_thread", role="trainee", data_class="phi", destination="local_file"
        )
    )
    assert decision.effect == "deny" and decision.rule_ids == ("A-DENY",)


def test_needs_approval_wins_over_allow_and_approvers_are_the_common_roles() -> None:
    decision = conflicts().evaluate(
        ActionRequest(
            action="export_thread", role="clinician", data_class="phi", destination="local_file"
        )
    )
    assert decision.effect == "needs_approval"
    assert decision.rule_ids == ("A-ASK", "A-ASK-ADMIN")
    assert decision.approvers == ("admin",)


def test_allow_when_nothing_stricter_matches() -> None:
    decision = conflicts().evaluate(
        ActionRequest(
            action="export_thread", role="admin", data_class="deidentified", destination="external"
        )
    )
    assert decision.effect == "allow" and decision.rule_ids == ("A-ALLOW",)


def test_approval_rules_without_a_common_approver_deny() -> None:
    decision = conflicts().evaluate(
        ActionRequest(
            action="erase_learner_data",
            role="admin",
            data_class="personal",
            destination="learner_store",
        )
    )
    assert decision.effect == "deny"
    assert "no approver role in common" in decision.reason


def test_attributes_match_by_type_and_value_and_unmatched_requests_are_denied() -> None:
    evaluator = conflicts()

    def finalize(attributes: dict) -> str:
        return evaluator.evaluate(
            ActionRequest(
                action="finalize_radiology_report",
                role="clinician",
                data_class="phi",
                destination="thread",
                attributes=attributes,
            )
        ).rule_ids[0]

    assert finalize({"report_signed": True}) == "C-ATTR"
    assert finalize({"report_signed": 1}) == DEFAULT_RULE_ID
    assert finalize({}) == DEFAULT_RULE_ID


def test_requests_with_unknown_actions_or_roles_are_rejected() -> None:
    with pytest.raises(ValueError, match="action"):
        ActionRequest(action="frobnicate", role="admin", data_class="phi", destination="thread")
    with pytest.raises(ValueError, match="role"):
        ActionRequest(
            action="export_thread", role="surgeon", data_class="phi", destination="local_file"
        )
