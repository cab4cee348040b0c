"""The tutor agent: adaptive quizzes, graduated hints, cited explanations and progress, per learner.

Usage:
    agent = TutorAgent(Tutor(load_bank(), open_learner_store(url), Grader(embed), plot_dir=d))
    agent.run(AgentTask(intent="tutor", text="I'm new — where do I start?", order=0,
                        user_id="u1"))                      # diagnostic item 1 of 10

Requests are parsed deterministically (`agents/tutor_intents.py`); the tools do the teaching,
so the tutor never depends on a chat model (only the optional free-text judge uses one).
Learner state, the open question included, lives in the learner store, so a conversation can
continue after a restart. Bad input gets a clear reply and changes nothing.
"""

from __future__ import annotations

import logging

from agents.registry import AgentTask
from agents.tutor_intents import TutorRequest, parse_request
from agents.tutor_replies import (
    render_explanation,
    render_grade,
    render_hint,
    render_progress,
    render_question,
)
from state.schema import AgentAnswer, Intent
from tools.tutor.engine import NoOpenQuestion, Tutor, UnknownConcept
from tools.tutor.grading import AnswerRejected
from tools.tutor.wire import (
    ExplainInput,
    GradeAnswerInput,
    HintInput,
    LearnerRef,
    NextQuestionInput,
    ProgressInput,
)

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
WELCOME = (
    "Welcome! A 10-question diagnostic across the curriculum will show where to start; "
    "after it I pick questions at the edge of what you know."
)

STOPPED = "Quiz paused: I set the open question aside. Ask me anything, or say “quiz me” to go on."
NOTHING_OPEN = "There is no open question to stop. Say “quiz me” whenever you want one."


class TutorAgent:
    """Teaches chest radiography and medical AI through the tutor tools."""

    name: Intent = "tutor"

    def __init__(self, tutor: Tutor) -> None:
        self.tutor = tutor

    def run(self, task: AgentTask) -> AgentAnswer:
        """Handle one tutor message for the task's learner."""
        ref = LearnerRef(user_id=task.user_id or ANONYMOUS, tenant_id=task.tenant_id)
        state = self.tutor.learner(ref)
        request = parse_request(task.text, has_open_question=state.pending is not None)
        log.info("tutor_request kind=%s open_question=%s", request.kind, state.pending is not None)
        try:
            text, citations = self._handle(request, ref)
        except (NoOpenQuestion, AnswerRejected, UnknownConcept) as exc:
            text, citations = str(exc), []
        return AgentAnswer(order=task.order, agent=self.name, text=text, citations=citations)

    def _handle(self, request: TutorRequest, ref: LearnerRef) -> tuple[str, list[str]]:
        tutor = self.tutor
        bank = tutor.bank
        who = ref.model_dump()
        if request.kind == "progress":
            return render_progress(tutor.progress_report(ProgressInput(**who))), []
        if request.kind == "diagnostic":
            asked = tutor.next_question(NextQuestionInput(**who, diagnostic=True))
            opening = WELCOME if asked.question.purpose == "diagnostic" else ""
            return "\n".join(filter(None, [opening, render_question(asked, bank)])), []
        if request.kind == "hint":
            hint = tutor.give_hint(HintInput(**who))
            closing = "\nSay “next” for another question." if hint.kind == "worked" else ""
            return render_hint(hint) + closing, hint.citations
        if request.kind == "stop":
            closed = tutor.close_question(ref)
            return (STOPPED if closed else NOTHING_OPEN), []
        if request.kind == "skip":
            return render_question(tutor.next_question(NextQuestionInput(**who)), bank), []
        if request.kind == "quiz":
            focus = [request.topic] if request.topic else []
            asked = tutor.next_question(NextQuestionInput(**who, focus=focus))
            return render_question(asked, bank), []
        if request.kind == "explain":
            return self._explain(request.topic, ref)
        return self._answer(request.text, ref)

    def _explain(self, topic: str, ref: LearnerRef) -> tuple[str, list[str]]:
        """Explain a concept (the open question's if none is named), then ask a check question."""
        tutor = self.tutor
        state = tutor.learner(ref)
        if not topic:
            if state.pending is None:
                raise UnknownConcept(
                    f"Which concept should I explain? Topics I cover: {tutor.index.topics()}."
                )
            topic = tutor.bank.question(state.pending.question_id).concepts[0]
        explained = tutor.explain_concept(ExplainInput(concept=topic))
        text = render_explanation(explained, tutor.bank)
        if state.pending is not None:
            return f"{text}\nYour open question is still waiting for an answer.", [
                explained.citation
            ]
        check = tutor.next_question(
            NextQuestionInput(**ref.model_dump(), focus=[explained.concept_id])
        )
        return f"{text}\nCheck yourself:\n{render_question(check, tutor.bank)}", [
            explained.citation
        ]

    def _answer(self, answer: str, ref: LearnerRef) -> tuple[str, list[str]]:
        """Grade the answer; when the question closes, pose the next one in the same focus."""
        tutor = self.tutor
        before = tutor.learner(ref)
        graded = tutor.grade_answer(GradeAnswerInput(**ref.model_dump(), answer=answer))
        parts = [render_grade(graded, tutor.bank)]
        citations = list(graded.citations)
        if graded.closed:
            parts.append(self._continue(before.pending.focus if before.pending else (), ref))
        if graded.hint is not None:
            citations += [c for c in graded.hint.citations if c not in citations]
        return "\n\n".join(parts), citations

    def _continue(self, focus: tuple[str, ...], ref: LearnerRef) -> str:
        """The diagnostic summary when it just finished, then the next question."""
        tutor = self.tutor
        state = tutor.learner(ref)
        lines: list[str] = []
        diagnostic = state.diagnostic
        if diagnostic is not None and diagnostic.finished and state.last_purpose == "diagnostic":
            lines.append(self._diagnostic_summary(ref))
        asked = tutor.next_question(NextQuestionInput(**ref.model_dump(), focus=list(focus)))
        lines.append("Next: " + render_question(asked, tutor.bank))
        return "\n".join(lines)

    def _diagnostic_summary(self, ref: LearnerRef) -> str:
        tutor = self.tutor
        events = [
            e
            for e in tutor.store.events(ref.tenant_id, ref.user_id)
            if e.purpose == "diagnostic" and e.counted
        ]
        right = [tutor.bank.concept(e.concepts[0]).title for e in events if e.correct]
        wrong = [tutor.bank.concept(e.concepts[0]).title for e in events if not e.correct]
        lines = [f"Diagnostic complete: {len(right)} of {len(events)} right."]
        if right:
            lines.append("Solid start: " + ", ".join(right) + ".")
        if wrong:
            lines.append("To work on: " + ", ".join(wrong) + ".")
        return " ".join(lines)
