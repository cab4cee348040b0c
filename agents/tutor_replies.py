"""The tutor's chat replies: plain text rendered from the tutor tools' wire shapes.

Usage:
    text = render_question(tutor.next_question(args), bank)
"""

from __future__ import annotations

from tools.tutor.bank import Bank
from tools.tutor.wire import (
    ConceptExplanation,
    GradeAnswerOutput,
    HintView,
    NextQuestionOutput,
    ProgressReport,
)

PURPOSE_LABEL = {"diagnostic": "Diagnostic", "practice": "Practice", "review": "Review"}
MAX_TABLE_ROWS = 50


def render_question(asked: NextQuestionOutput, bank: Bank) -> str:
    """A question with its context line, choices and how to answer."""
    q = asked.question
    titles = ", ".join(bank.concept(c).title for c in q.concepts)
    lines = [asked.note] if asked.note else []
    lines.append(f"{PURPOSE_LABEL[q.purpose]} — {titles} ({q.difficulty}, {q.bloom}): {q.reason}.")
    lines.append(q.stem)
    lines += q.choices
    if q.kind == "mcq":
        lines.append("Answer with a letter (A–D), or say “hint”.")
    else:
        lines.append("Answer in a sentence or two, or say “hint”.")
    return "\n".join(lines)


def render_grade(graded: GradeAnswerOutput, bank: Bank) -> str:
    """The verdict and why, the mastery change, then a hint or the closing explanation."""
    grade = graded.grade
    lines = [grade.feedback if grade.method == "mcq" else _free_text_verdict(graded)]
    if graded.counted:
        changes = ", ".join(f"{bank.concept(c).title} {m:.2f}" for c, m in graded.mastery.items())
        lines.append(f"Mastery now: {changes}.")
    elif grade.correct:
        lines.append("Right this time; answers after a hint or a retry do not change mastery.")
    if graded.hint is not None:
        lines.append(render_hint(graded.hint))
    if graded.closed:
        if grade.correct:
            lines.append(graded.explanation)
    else:
        lines.append("Try again, or say “hint” for another hint.")
    return "\n".join(lines)


def _free_text_verdict(graded: GradeAnswerOutput) -> str:
    opening = "Correct." if graded.grade.correct else "Not yet."
    return f"{opening} {graded.grade.feedback}"


def render_hint(hint: HintView) -> str:
    """One hint, labelled by its level."""
    label = {"nudge": "Hint 1/3", "pointer": "Hint 2/3", "worked": "Worked answer (3/3)"}[hint.kind]
    text = hint.text.removeprefix("Worked answer: ")
    return f"{label}: {text}"


def render_explanation(explained: ConceptExplanation, bank: Bank) -> str:
    """The concept's curriculum text, key points and prerequisites, cited."""
    lines = [f"{explained.title} {explained.citation}", explained.text, "Key points:"]
    lines += [f"- {point}" for point in explained.key_points]
    if explained.prerequisites:
        before = ", ".join(bank.concept(p).title for p in explained.prerequisites)
        lines.append(f"Builds on: {before}.")
    return "\n".join(lines)


def render_progress(report: ProgressReport) -> str:
    """A plain-text table of the concepts practised (and what is next), totals and the plot."""
    if report.answered == 0:
        return (
            "You have not answered any questions yet. Say “I'm new” for a 10-question "
            "diagnostic, or “quiz me on <topic>”."
        )
    shown = [r for r in report.rows if r.attempts > 0]
    shown += [r for r in report.rows if r.attempts == 0 and r.status == "not started"][:5]
    width = max(len(r.title) for r in shown[:MAX_TABLE_ROWS])
    lines = [
        f"You have answered {report.answered} questions ({report.correct} right). "
        f"Diagnostic: {report.diagnostic}.",
        f"{'concept':<{width}}  mastery  answers  status",
    ]
    lines += [
        f"{r.title:<{width}}  {r.mastery:7.2f}  {r.correct:>3}/{r.attempts:<3}  {r.status}"
        for r in shown[:MAX_TABLE_ROWS]
    ]
    counts: dict[str, int] = {}
    for row in report.rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    lines.append("All concepts: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".")
    if report.plot_path:
        lines.append(f"Mastery over time (PNG): {report.plot_path}")
    return "\n".join(lines)
