"""The shipped curriculum and question bank: size, coverage, balance and answerability."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from tools.tutor.bank import DATA_DIR, TOPICS, Bank, load_bank
from tools.tutor.grading import keyword_present, stems

MIN_CONCEPTS = 35
MIN_QUESTIONS = 200
MIN_QUESTIONS_PER_CONCEPT = 3
_SHORT_WORDS = 3
_FUNCTION_WORDS = frozenset(
    stems(
        "the and that this with from which their there these those when where what have been "
        "into than then they them more most less also only each both such about over under "
        "after before other will would could should because does while"
    )
)


@pytest.fixture(scope="module")
def real_bank() -> Bank:
    return load_bank()


def _content_stems(text: str) -> set[str]:
    return {s for s in stems(text) if len(s) > _SHORT_WORDS and s not in _FUNCTION_WORDS}


def _concept_stems(bank: Bank, concept_ids: tuple[str, ...]) -> set[str]:
    return set().union(*(_content_stems(bank.concept(c).text) for c in concept_ids))


def test_ships_enough_concepts_and_questions_in_every_topic(real_bank: Bank) -> None:
    assert len(real_bank.concepts) >= MIN_CONCEPTS
    assert len(real_bank.questions) >= MIN_QUESTIONS
    assert {c.topic for c in real_bank.concepts} == set(TOPICS)
    assert {p.stem for p in (DATA_DIR / "questions").glob("*.yaml")} == set(TOPICS)


def test_every_concept_leads_at_least_three_questions(real_bank: Bank) -> None:
    primary = Counter(q.concepts[0] for q in real_bank.questions)
    thin = {c.id: primary[c.id] for c in real_bank.concepts if primary[c.id] < 3}
    assert not thin, f"concepts with fewer than {MIN_QUESTIONS_PER_CONCEPT} questions: {thin}"


def test_each_topic_file_holds_questions_led_by_its_own_topic(real_bank: Bank) -> None:
    for path in sorted((DATA_DIR / "questions").glob("*.yaml")):
        items = yaml.safe_load(path.read_text(encoding="utf-8"))
        topics = {real_bank.concept(item["concepts"][0]).topic for item in items}
        assert topics == {path.stem}, f"{path.name} holds questions led by {topics}"


def test_prerequisite_graph_reaches_every_concept_from_a_root(real_bank: Bank) -> None:
    roots = [c.id for c in real_bank.concepts if not c.prerequisites]
    order = real_bank.topological_order()
    assert roots and len(order) == len(real_bank.concepts)
    dependants = {pre for c in real_bank.concepts for pre in c.prerequisites}
    isolated = [c.id for c in real_bank.concepts if not c.prerequisites and c.id not in dependants]
    assert not isolated, f"concepts outside the prerequisite graph: {isolated}"


def test_mixes_kinds_bloom_levels_and_difficulties(real_bank: Bank) -> None:
    total = len(real_bank.questions)
    kinds = Counter(q.kind for q in real_bank.questions)
    assert 0.2 <= kinds["short"] / total <= 0.35
    for field in ("bloom", "difficulty"):
        counts = Counter(getattr(q, field) for q in real_bank.questions)
        assert min(counts.values()) / total >= 0.1, f"{field} is unbalanced: {counts}"


def test_neither_position_nor_length_gives_the_mcq_answer_away(real_bank: Bank) -> None:
    mcqs = [q for q in real_bank.questions if q.kind == "mcq"]
    positions = Counter(q.correct_index for q in mcqs)
    assert min(positions[i] for i in range(4)) / len(mcqs) >= 0.18, positions
    longest = sum(
        len(q.choices[q.correct_index].text) == max(len(c.text) for c in q.choices) for q in mcqs
    )
    assert longest / len(mcqs) < 0.6


def test_short_model_answers_pass_their_own_rubric(real_bank: Bank) -> None:
    for question in (q for q in real_bank.questions if q.kind == "short"):
        assert 2 <= len(question.rubric_keywords) <= 6, question.id
        words = stems(question.answer)
        missing = [k for k in question.rubric_keywords if not keyword_present(k, words)]
        assert not missing, f"{question.id}: model answer lacks {missing}"


def test_explanations_are_drawn_from_their_concepts_text(real_bank: Bank) -> None:
    for question in real_bank.questions:
        source = _concept_stems(real_bank, question.concepts)
        words = _content_stems(question.explanation)
        share = len(words & source) / len(words)
        assert share >= 0.5, f"{question.id}: explanation strays from its concepts ({share:.2f})"


def test_overlap_check_flags_an_explanation_unrelated_to_its_concepts(real_bank: Bank) -> None:
    question = real_bank.questions[0]
    unrelated = "Gradient boosting ensembles shrink learning rates across sequential estimators."
    source = _concept_stems(real_bank, question.concepts)
    words = _content_stems(unrelated)
    assert len(words & source) / len(words) < 0.5
