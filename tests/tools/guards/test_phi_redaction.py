"""PHI/PII redaction: every Safe Harbor type that text carries, stable placeholders, restore."""

from __future__ import annotations

import pytest

from state.schema import PhiVault

CASES = [
    ("Mr John Smith was seen today", "PERSON", "John Smith"),
    ("my name is Priya and I need help", "PERSON", "Priya"),
    ("born 03/04/1950, reviewed", "DATE", "03/04/1950"),
    ("admitted on March 3, 2021 with cough", "DATE", "March 3, 2021"),
    ("call me on 555-201-3344 tomorrow", "PHONE", "555-201-3344"),
    ("fax: 555 123 4567 please", "FAX", "555 123 4567"),
    ("email jane.doe@example.org now", "EMAIL", "jane.doe@example.org"),
    ("SSN 123-45-6789 on file", "SSN", "123-45-6789"),
    ("MRN: 00123456 for the film", "MRN", "00123456"),
    ("member ID XJ99887766 covers it", "HEALTH_PLAN", "XJ99887766"),
    ("account number 99812377 billed", "ACCOUNT", "99812377"),
    ("licence no. GB12345X checked", "LICENSE", "GB12345X"),
    ("lives at 12 Baker Street, flat upstairs", "ADDRESS", "12 Baker Street"),
    ("Springfield, IL 62704 is the town", "ZIP", "62704"),
    ("see https://records.example.org/p/77 for it", "URL", "https://records.example.org/p/77"),
    ("the PACS host 10.1.2.3 was slow", "IP", "10.1.2.3"),
    ("pacemaker serial PM4455321 was checked", "DEVICE", "PM4455321"),
    ("a 93-year-old woman with dyspnoea", "AGE", "93"),
]


@pytest.mark.parametrize(("text", "kind", "value"), CASES)
def test_redacts_each_safe_harbor_type_with_a_typed_placeholder(redactor, text, kind, value):
    vault = PhiVault()
    result = redactor.redact(text, vault)
    assert value not in result.text
    assert f"<{kind}_1>" in result.text
    assert vault.entries[f"<{kind}_1>"] == value


def test_redacts_mrn_and_restores_for_the_vault_only(redactor):
    vault = PhiVault(owner="dr-a")
    text = "Mr John Smith, MRN 00123456, call 555-201-3344"
    result = redactor.redact(text, vault)
    assert result.text == "Mr <PERSON_1>, MRN <MRN_1>, call <PHONE_1>"
    assert result.counts == {"PERSON": 1, "MRN": 1, "PHONE": 1}
    assert vault.restore(result.text) == text


def test_placeholders_are_stable_within_a_thread(redactor):
    vault = PhiVault()
    first = redactor.redact("MRN 00123456 for Mrs Ada Lovelace", vault).text
    second = redactor.redact("is Ada Lovelace, MRN 00123456, ready?", vault).text
    assert "<MRN_1>" in first and "<MRN_1>" in second
    assert "<PERSON_1>" in first and "<PERSON_1>" in second
    assert vault.counters == {"MRN": 1, "PERSON": 1}


def test_existing_placeholders_are_left_alone(redactor):
    vault = PhiVault()
    assert redactor.redact("what about <PERSON_1>?", vault).text == "what about <PERSON_1>?"
    assert vault.entries == {}


@pytest.mark.parametrize(
    "text",
    [
        "Can I ignore a small pleural effusion on a follow-up film?",
        "Explain Hodgkin lymphoma and Parkinson disease findings on CT.",
        "Quiz me on the Westermark sign and Hampton hump.",
        "What does the Fleischner Society say about a 6 mm nodule?",
        "Draft a report: PA chest film, heart size normal, no consolidation.",
        "Summarise the 2023 policy on data retention for radiology.",
        "A 45-year-old smoker with a cough: what are the differentials?",
    ],
)
def test_leaves_clinical_text_without_identifiers_unchanged(redactor, text):
    assert redactor.redact(text, PhiVault()).text == text
