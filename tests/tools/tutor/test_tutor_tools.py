"""The five LangChain tutor tools, bound to one learner."""

from __future__ import annotations

from pathlib import Path

from tools.models.embedder import MiniLMEmbedder
from tools.tutor.bank import Bank
from tools.tutor.engine import Tutor
from tools.tutor.grading import Grader
from tools.tutor.learner_store import open_learner_store
from tools.tutor.tutor_tools import make_tutor_tools


def test_tools_ask_grade_hint_explain_and_report(
    bank: Bank, minilm: MiniLMEmbedder, tmp_path: Path
) -> None:
    with open_learner_store(f"sqlite:///{tmp_path / 't.sqlite'}") as store:
        tutor = Tutor(bank, store, Grader(minilm.embed), plot_dir=tmp_path)
        tools = {t.name: t for t in make_tutor_tools(tutor, user_id="u1", tenant_id="acme")}
        assert sorted(tools) == [
            "explain_concept",
            "give_hint",
            "grade_answer",
            "next_question",
            "progress_report",
        ]
        asked = tools["next_question"].invoke({"focus": ["projections"]})
        assert asked["question"]["purpose"] == "practice"
        assert tools["give_hint"].invoke({})["kind"] == "nudge"
        graded = tools["grade_answer"].invoke({"answer": "B"})
        assert graded["grade"]["correct"] and graded["closed"]
        assert tools["explain_concept"].invoke({"concept": "ppv"})["concept_id"] == "ppv"
        assert tools["progress_report"].invoke({"plot": False})["answered"] == 0


def test_bad_input_comes_back_as_the_tool_reply(
    bank: Bank, minilm: MiniLMEmbedder, tmp_path: Path
) -> None:
    with open_learner_store(f"sqlite:///{tmp_path / 't.sqlite'}") as store:
        tutor = Tutor(bank, store, Grader(minilm.embed), plot_dir=tmp_path)
        tools = {t.name: t for t in make_tutor_tools(tutor, user_id="u1")}
        reply = tools["grade_answer"].invoke({"answer": "B"})
        assert reply == "There is no open question to answer. Say “quiz me” and I will ask one."
        assert tools["explain_concept"].invoke({"concept": "unicorns"}).startswith("I don't teach")
        assert store.load("", "u1") is None
