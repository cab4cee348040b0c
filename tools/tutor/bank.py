"""The tutor's curriculum and question bank: pydantic models, validated when loaded from YAML.

Usage:
    bank = load_bank()                       # tools/tutor/data/ shipped with MedGraph
    bank.concept("silhouette_sign").title    # 'The silhouette sign'
    [q.id for q in bank.questions_for("silhouette_sign")]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from state.errors import AssetError

Topic = Literal["basics", "reading", "conditions", "devices", "ml"]
Kind = Literal["mcq", "short"]
Bloom = Literal["recall", "application", "analysis"]
Difficulty = Literal["easy", "medium", "hard"]

TOPICS: tuple[Topic, ...] = ("basics", "reading", "conditions", "devices", "ml")
DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")
DATA_DIR = Path(__file__).parent / "data"
MIN_TEXT_WORDS = 80
MAX_TEXT_WORDS = 200
_SLUG = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")


class Concept(BaseModel):
    """One curriculum unit: its text is what explanations cite as `[concept: id]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_SLUG.pattern)
    title: str = Field(min_length=3)
    topic: Topic
    prerequisites: tuple[str, ...] = ()
    text: str
    key_points: tuple[str, ...] = Field(min_length=2, max_length=5)

    @field_validator("text")
    @classmethod
    def _text_length(cls, text: str) -> str:
        words = len(text.split())
        if not MIN_TEXT_WORDS <= words <= MAX_TEXT_WORDS:
            raise ValueError(
                f"curriculum text has {words} words; it must have {MIN_TEXT_WORDS}–{MAX_TEXT_WORDS}"
            )
        return text

    @property
    def citation(self) -> str:
        """The label explanations use to cite this concept's text."""
        return f"[concept: {self.id}]"


class Choice(BaseModel):
    """One option of a multiple-choice question, with why it is right or wrong."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1)
    correct: bool
    rationale: str = Field(min_length=1)


class Question(BaseModel):
    """One question: multiple choice (`mcq`, 4 choices) or short free text (`short`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    kind: Kind
    concepts: tuple[str, ...] = Field(min_length=1)
    bloom: Bloom
    difficulty: Difficulty
    stem: str = Field(min_length=1)
    choices: tuple[Choice, ...] = ()
    answer: str = Field(min_length=1)
    rubric_keywords: tuple[str, ...] = ()
    explanation: str = Field(min_length=1)

    @model_validator(mode="after")
    def _answerable(self) -> Question:
        if self.kind == "mcq":
            if len(self.choices) != 4:
                raise ValueError(f"mcq {self.id} has {len(self.choices)} choices; it needs 4")
            correct = [c for c in self.choices if c.correct]
            if len(correct) != 1:
                raise ValueError(f"mcq {self.id} has {len(correct)} correct choices; it needs 1")
            if correct[0].text.strip() != self.answer.strip():
                raise ValueError(f"mcq {self.id}: answer is not the text of the correct choice")
            if len({c.text.strip().lower() for c in self.choices}) != 4:
                raise ValueError(f"mcq {self.id} has two choices with the same text")
            if self.rubric_keywords:
                raise ValueError(f"mcq {self.id} must not carry rubric keywords")
        else:
            if self.choices:
                raise ValueError(f"short question {self.id} must not have choices")
            if not self.rubric_keywords:
                raise ValueError(f"short question {self.id} needs rubric keywords")
            if any(k != k.lower() or not k.strip() for k in self.rubric_keywords):
                raise ValueError(f"short question {self.id}: rubric keywords must be lowercase")
        return self

    @property
    def correct_index(self) -> int:
        """Index of the correct choice (mcq only)."""
        return next(i for i, c in enumerate(self.choices) if c.correct)


class Bank(BaseModel):
    """Concepts and questions, checked as a whole: ids, references, prerequisite cycles, orphans."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    concepts: tuple[Concept, ...]
    questions: tuple[Question, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Bank:
        concept_ids = [c.id for c in self.concepts]
        _require_unique(concept_ids, "concept")
        _require_unique([q.id for q in self.questions], "question")
        known = set(concept_ids)
        for concept in self.concepts:
            unknown = set(concept.prerequisites) - known
            if unknown:
                raise ValueError(f"concept {concept.id}: unknown prerequisites {sorted(unknown)}")
            if concept.id in concept.prerequisites:
                raise ValueError(f"concept {concept.id} lists itself as a prerequisite")
        for question in self.questions:
            unknown = set(question.concepts) - known
            if unknown:
                raise ValueError(f"question {question.id} tests unknown concepts {sorted(unknown)}")
        cycle = _find_cycle({c.id: c.prerequisites for c in self.concepts})
        if cycle:
            raise ValueError("prerequisite cycle: " + " -> ".join(cycle))
        tested = {cid for q in self.questions for cid in q.concepts}
        orphans = [cid for cid in concept_ids if cid not in tested]
        if orphans:
            raise ValueError(f"concepts with no question: {orphans}")
        return self

    @cached_property
    def _concepts_by_id(self) -> dict[str, Concept]:
        return {c.id: c for c in self.concepts}

    @cached_property
    def _questions_by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    def concept(self, concept_id: str) -> Concept:
        """The concept with this id; KeyError when there is none."""
        return self._concepts_by_id[concept_id]

    def has_concept(self, concept_id: str) -> bool:
        """Whether the curriculum holds this concept id."""
        return concept_id in self._concepts_by_id

    def question(self, question_id: str) -> Question:
        """The question with this id; KeyError when there is none."""
        return self._questions_by_id[question_id]

    def has_question(self, question_id: str) -> bool:
        """Whether the bank holds this question id."""
        return question_id in self._questions_by_id

    def questions_for(self, concept_id: str) -> list[Question]:
        """Questions whose first (primary) concept is `concept_id`, else any that test it."""
        primary = [q for q in self.questions if q.concepts[0] == concept_id]
        return primary or [q for q in self.questions if concept_id in q.concepts]

    def topological_order(self) -> list[str]:
        """Concept ids with every prerequisite before its dependants, file order otherwise."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(cid: str) -> None:
            if cid in seen:
                return
            seen.add(cid)
            for pre in self.concept(cid).prerequisites:
                visit(pre)
            order.append(cid)

        for concept in self.concepts:
            visit(concept.id)
        return order


def _require_unique(ids: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    dupes = sorted({i for i in ids if i in seen or seen.add(i)})
    if dupes:
        raise ValueError(f"duplicate {what} ids: {dupes}")


def _find_cycle(graph: dict[str, tuple[str, ...]]) -> list[str]:
    """One prerequisite cycle as a path (first node repeated at the end), or [] when acyclic."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _read_yaml_list(path: Path) -> list[object]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AssetError(f"cannot read tutor data file {path}: {exc}") from exc
    if not isinstance(data, list):
        raise AssetError(f"tutor data file {path} must hold a YAML list")
    return data


def load_bank(data_dir: Path = DATA_DIR, extra_questions: Iterable[Question] = ()) -> Bank:
    """Load and validate `concepts.yaml` and `questions/*.yaml` under `data_dir`.

    `extra_questions` (e.g. case questions built from reports) join the bank before validation.
    Raises AssetError naming the file and the problem when anything is missing or invalid.
    """
    concepts_path = data_dir / "concepts.yaml"
    if not concepts_path.is_file():
        raise AssetError(f"tutor curriculum not found: {concepts_path}")
    question_files = sorted((data_dir / "questions").glob("*.yaml"))
    if not question_files:
        raise AssetError(f"no question files under {data_dir / 'questions'}")
    try:
        concepts = [Concept.model_validate(item) for item in _read_yaml_list(concepts_path)]
    except ValidationError as exc:
        raise AssetError(f"invalid concept in {concepts_path}: {exc}") from exc
    questions: list[Question] = []
    for path in question_files:
        try:
            questions += [Question.model_validate(item) for item in _read_yaml_list(path)]
        except ValidationError as exc:
            raise AssetError(f"invalid question in {path}: {exc}") from exc
    questions += list(extra_questions)
    try:
        return Bank(concepts=tuple(concepts), questions=tuple(questions))
    except ValidationError as exc:
        raise AssetError(f"inconsistent tutor bank in {data_dir}: {exc}") from exc
