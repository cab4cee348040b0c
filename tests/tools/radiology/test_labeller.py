"""The rule-based 14-condition report labeller on hand-written sentences."""

from __future__ import annotations

import pytest

from tools.radiology.conditions import CONDITIONS, MENTIONS
from tools.radiology.labeller import label_report

POSITIVE_PHRASES = {
    "Enlarged Cardiomediastinum": "The mediastinum is widened.",
    "Cardiomegaly": "Moderate cardiomegaly.",
    "Lung Opacity": "Patchy opacity in the right lower lobe.",
    "Lung Lesion": "A 2 cm nodule in the left upper lobe.",
    "Edema": "Mild interstitial pulmonary edema.",
    "Consolidation": "Dense consolidation of the right middle lobe.",
    "Pneumonia": "Findings consistent with right lower lobe pneumonia.",
    "Atelectasis": "Bibasilar subsegmental atelectasis.",
    "Pneumothorax": "Small right apical pneumothorax.",
    "Pleural Effusion": "Small left pleural effusion.",
    "Pleural Other": "Biapical pleural thickening.",
    "Fracture": "Healed right rib fractures.",
    "Support Devices": "Left chest wall pacemaker with leads in the right ventricle.",
}
NEGATED_PHRASES = {
    "Enlarged Cardiomediastinum": "No mediastinal widening.",
    "Cardiomegaly": "No cardiomegaly.",
    "Lung Opacity": "Lungs are clear without focal opacity.",
    "Lung Lesion": "No suspicious pulmonary nodules or masses.",
    "Edema": "There is no pulmonary edema.",
    "Consolidation": "No focal consolidation.",
    "Pneumonia": "Negative for pneumonia.",
    "Atelectasis": "The atelectasis has resolved.",
    "Pneumothorax": "No evidence of pneumothorax.",
    "Pleural Effusion": "Free of pleural effusion.",
    "Pleural Other": "No pleural thickening.",
    "Fracture": "No acute displaced rib fracture.",
    "Support Devices": "The right internal jugular catheter has been removed.",
}


def _found(text: str) -> dict[str, str]:
    return {c: m for c, m in label_report(text).items() if m != "blank"}


def test_labels_every_condition_with_a_known_mention() -> None:
    labels = label_report("No pneumothorax.")
    assert tuple(labels) == CONDITIONS
    assert set(labels.values()) <= set(MENTIONS)


@pytest.mark.parametrize(("condition", "text"), POSITIVE_PHRASES.items())
def test_each_condition_has_a_positive_mention(condition: str, text: str) -> None:
    assert label_report(text)[condition] == "positive"


@pytest.mark.parametrize(("condition", "text"), NEGATED_PHRASES.items())
def test_each_condition_can_be_negated(condition: str, text: str) -> None:
    assert label_report(text)[condition] == "negative"


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ("Possible left lower lobe pneumonia.", "Pneumonia"),
        ("A small pneumothorax cannot be excluded.", "Pneumothorax"),
        ("Opacity may represent atelectasis.", "Atelectasis"),
        ("Findings are suspicious for a mass.", "Lung Lesion"),
        ("Borderline heart size.", "Cardiomegaly"),
        ("The heart may be enlarged.", "Cardiomegaly"),
        ("Right basilar atelectasis versus infiltrate.", "Atelectasis"),
        ("No new effusion.", "Pleural Effusion"),
    ],
)
def test_hedged_mentions_are_uncertain(text: str, condition: str) -> None:
    assert label_report(text)[condition] == "uncertain"


def test_unmentioned_conditions_are_blank() -> None:
    labels = label_report("Small left pleural effusion.")
    assert labels["Pneumothorax"] == "blank"
    assert labels["Fracture"] == "blank"


def test_negation_scope_ends_at_but_and_covers_a_list() -> None:
    found = _found("No pneumothorax or consolidation, but there is a small left effusion.")
    assert found["Pneumothorax"] == found["Consolidation"] == "negative"
    assert found["Pleural Effusion"] == "positive"
    listed = _found("No focal airspace disease, pleural effusion, or pneumothorax.")
    assert listed["Lung Opacity"] == listed["Pleural Effusion"] == "negative"
    assert listed["Pneumothorax"] == "negative"


def test_negation_does_not_cross_sentences_or_apply_backwards_through_without() -> None:
    found = _found("No effusion. Mild cardiomegaly without pulmonary edema.")
    assert found["Pleural Effusion"] == "negative"
    assert found["Cardiomegaly"] == "positive"
    assert found["Edema"] == "negative"


def test_no_change_is_not_a_negation() -> None:
    assert label_report("No change in the small left pleural effusion.")["Pleural Effusion"] == (
        "positive"
    )


def test_positive_beats_negative_across_mentions() -> None:
    text = "Findings: No effusion on the left. | Impression: Small right pleural effusion."
    assert label_report(text)["Pleural Effusion"] == "positive"


def test_heart_and_mediastinum_states_are_read_from_their_predicate() -> None:
    assert _found("The heart is normal in size.") == {
        "Cardiomegaly": "negative",
        "No Finding": "positive",
    }
    assert label_report("The heart is enlarged.")["Cardiomegaly"] == "positive"
    both = _found("Heart size and mediastinal contours are within normal limits.")
    assert both["Cardiomegaly"] == both["Enlarged Cardiomediastinum"] == "negative"
    split = _found("Heart size is normal, the mediastinum is widened.")
    assert split["Cardiomegaly"] == "negative"
    assert split["Enlarged Cardiomediastinum"] == "positive"
    assert label_report("The heart is not enlarged.")["Cardiomegaly"] == "negative"


def test_no_finding_is_positive_only_for_a_normal_study() -> None:
    normal = "Findings: Heart size normal. Lungs clear. | Impression: No acute disease."
    assert label_report(normal)["No Finding"] == "positive"
    devices = normal + " Left chest port catheter in place."
    assert label_report(devices)["No Finding"] == "positive"
    assert label_report(devices)["Support Devices"] == "positive"
    assert label_report(normal + " Mild degenerative changes of the spine.")["No Finding"] == (
        "blank"
    )
    assert label_report(normal + " Possible small effusion.")["No Finding"] == "blank"
    assert label_report(normal + " Small effusion.")["No Finding"] == "blank"


def test_empty_text_is_blank_everywhere() -> None:
    assert set(label_report("").values()) == {"blank"}
    assert set(label_report("   ").values()) == {"blank"}


def test_pericardial_effusion_is_not_a_pleural_effusion() -> None:
    assert label_report("Small pericardial effusion.")["Pleural Effusion"] == "blank"
