"""Radiology turns through the whole graph with its real input and output guards.

Graph logic with a SCRIPTED classifier and a SCRIPTED composer (`tests/scripted.py`); the
report tool is the real service on a tiny random-weight checkpoint, and the films are phantoms.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from langgraph.checkpoint.sqlite import SqliteSaver

from agents.radiology import NO_IMAGE_REPLY, RadiologyAgent
from agents.registry import AgentRegistry
from agents.supervisor import RoutingThresholds, SupervisorRouter
from graphs.guard_nodes import GraphGuards
from graphs.supervisor import build_supervisor_graph
from graphs.turns import AnswerEvent, stream_turn
from state.schema import Attachment
from tests.scripted import ScriptedClassifier, ScriptedPrediction, scripted_access
from tests.tools.radiology.checkpoint_support import FAST_DECODING, write_tiny_checkpoint
from tests.tools.radiology.phantom_support import lung_masks
from tools.guards.clinical_safety import REVIEW_NOTICE
from tools.guards.injection_patterns import InjectionPatterns
from tools.guards.input_guards import InputGuards
from tools.guards.output_guards import OutputGuards
from tools.guards.phi import PhiRedactor
from tools.guards.policy import profile
from tools.models.registry import ModelRegistry
from tools.radiology.phantoms import write_phantom
from tools.radiology.report_schema import PHANTOM_NOTICE
from tools.radiology.service import RadiologyService
from tools.routing.safety_lexicon import SafetyLexicon

PREDICTIONS = {
    "Draft a report for this film.": ScriptedPrediction("radiology", 0.97),
    "Is the heart enlarged?": ScriptedPrediction("radiology", 0.97),
}


def _attachment(path: Path) -> Attachment:
    data = path.read_bytes()
    return Attachment(
        kind="image",
        path=str(path),
        name=path.name,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )


@pytest.fixture
def graph(tmp_path: Path):
    torch.set_num_threads(1)
    service = RadiologyService(
        ModelRegistry("cpu"),
        write_tiny_checkpoint(tmp_path / "tiny"),
        tmp_path / "heat",
        generation=FAST_DECODING,
    )
    registry = AgentRegistry()
    registry.register(RadiologyAgent(scripted_access(), service))
    router = SupervisorRouter(
        ScriptedClassifier(PREDICTIONS), RoutingThresholds(0.85, 0.65, 0.03), None
    )
    guards = GraphGuards(
        InputGuards(
            PhiRedactor(),
            SafetyLexicon(),
            InjectionPatterns(),
            None,
            None,
            policies=profile("prod"),
            max_chars=20_000,
        ),
        OutputGuards(PhiRedactor(), policies=profile("prod")),
        {},
    )
    with SqliteSaver.from_conn_string(str(tmp_path / "cp.sqlite")) as saver:
        yield build_supervisor_graph(router, registry, None, guards).compile(checkpointer=saver)
    service.close()


def _answer(graph, text: str, attachments: list[Attachment]) -> AnswerEvent:
    events = stream_turn(
        graph,
        thread_id="t1",
        text=text,
        user_id="dr-a",
        tenant_id="ward",
        attachments=attachments,
    )
    (answer,) = [e for e in events if isinstance(e, AnswerEvent)]
    return answer


def test_a_bad_image_gets_a_reply_and_the_thread_goes_on(graph, tmp_path: Path) -> None:
    film = write_phantom(
        "cardiomegaly", tmp_path / "film.png", seed=1, size=160, masks=lung_masks()
    )
    broken = tmp_path / "broken.png"
    broken.write_bytes(film.read_bytes()[:300])
    first = _answer(graph, "Draft a report for this film.", [_attachment(broken)])
    assert first.agent == "radiology" and "I could not read the attached image" in first.text
    second = _answer(graph, "Draft a report for this film.", [_attachment(film)])
    assert "Draft report for the attached image:" in second.text
    assert PHANTOM_NOTICE in second.text
    assert second.text.count(REVIEW_NOTICE) == 1
    third = _answer(graph, "Is the heart enlarged?", [])
    assert third.text.startswith(NO_IMAGE_REPLY)
