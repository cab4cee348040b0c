"""The checkpointer factory: real graph round trips on Redis, Postgres and SQLite; bad URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.types import Command

from state.checkpointer import open_async_checkpointer, open_checkpointer, parse_checkpoint_url
from state.errors import ConfigError, StateUnavailable
from tests.state.graphs import build_approval_graph, build_turn_graph


def test_graph_round_trip_keeps_state_across_turns(checkpoint_url, factory_kwargs):
    with open_checkpointer(checkpoint_url, **factory_kwargs) as saver:
        graph = build_turn_graph(saver)
        config = {"configurable": {"thread_id": "round-trip"}}
        graph.invoke({"thread": "a"}, config)
        graph.invoke({"thread": "a"}, config)
    with open_checkpointer(checkpoint_url, **factory_kwargs) as saver:
        graph = build_turn_graph(saver)
        state = graph.get_state(config)
        assert state.values["turns"] == 2
        assert state.values["steps"] == ["a:route", "a:answer:1", "a:route", "a:answer:2"]
        history = list(graph.get_state_history(config))
        assert len(history) == 8  # per turn: input, start, route, answer
        assert [h.metadata["step"] for h in history] == [6, 5, 4, 3, 2, 1, 0, -1]


def test_forking_from_an_old_checkpoint_keeps_both_branches(checkpoint_url, factory_kwargs):
    config = {"configurable": {"thread_id": "fork"}}
    with open_checkpointer(checkpoint_url, **factory_kwargs) as saver:
        graph = build_turn_graph(saver)
        graph.invoke({"thread": "f"}, config)
        graph.invoke({"thread": "f"}, config)
        history = {
            s.config["configurable"]["checkpoint_id"]: s.values
            for s in graph.get_state_history(config)
        }
        forked_config = graph.update_state(
            next(s.config for s in graph.get_state_history(config) if s.next == ("route",)),
            {"steps": ["edited"]},
        )
        assert graph.get_state(forked_config).values["steps"] == [
            "f:route",
            "f:answer:1",
            "edited",
        ]
        for snapshot in graph.get_state_history(config):
            checkpoint_id = snapshot.config["configurable"]["checkpoint_id"]
            if checkpoint_id in history:
                assert snapshot.values == history[checkpoint_id], "a fork overwrote history"


def test_interrupt_and_resume_survive_reopen(checkpoint_url, factory_kwargs):
    config = {"configurable": {"thread_id": "approval"}}
    with open_checkpointer(checkpoint_url, **factory_kwargs) as saver:
        graph = build_approval_graph(saver)
        result = graph.invoke({"thread": "x"}, config)
        assert result["__interrupt__"][0].value == {"question": "publish?"}
    with open_checkpointer(checkpoint_url, **factory_kwargs) as saver:
        graph = build_approval_graph(saver)
        assert graph.get_state(config).next == ("approve",)
        final = graph.invoke(Command(resume="yes"), config)
        assert final["steps"] == ["draft", "approve", "publish:yes"]


async def test_async_graph_round_trip(checkpoint_url, factory_kwargs):
    config = {"configurable": {"thread_id": "async-round-trip"}}
    async with open_async_checkpointer(checkpoint_url, **factory_kwargs) as saver:
        graph = build_turn_graph(saver)
        await graph.ainvoke({"thread": "b"}, config)
        await graph.ainvoke({"thread": "b"}, config)
        state = await graph.aget_state(config)
    assert state.values["steps"] == ["b:route", "b:answer:1", "b:route", "b:answer:2"]


def test_sqlite_factory_creates_the_parent_directory(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'cp.sqlite'}"
    with open_checkpointer(url):
        pass
    assert (tmp_path / "a" / "b" / "cp.sqlite").exists()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "mysql://localhost/db",
        "checkpoints.sqlite",
        "sqlite://relative.db",
        "sqlite:///",
        "redis://",
        "redis://localhost:notaport/0",
        "redis://localhost:6379/zero",
        "http://localhost:6379",
    ],
)
def test_malformed_or_unsupported_urls_are_config_errors(url: str):
    with pytest.raises(ConfigError):
        parse_checkpoint_url(url)
    with pytest.raises(ConfigError), open_checkpointer(url):
        pass


def test_config_error_never_shows_the_password():
    with pytest.raises(ConfigError) as info:
        parse_checkpoint_url("mysql://user:s3cret@localhost/db")
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cret@127.0.0.1:1/0",
        "postgresql://postgres:s3cret@127.0.0.1:1/test",
    ],
)
def test_unreachable_store_is_state_unavailable_naming_the_url(url: str):
    with pytest.raises(StateUnavailable) as info, open_checkpointer(url, timeout_s=1.0):
        pass
    message = str(info.value)
    assert "127.0.0.1:1" in message
    assert "s3cret" not in message


async def test_unreachable_store_is_state_unavailable_async():
    with pytest.raises(StateUnavailable, match=r"127\.0\.0\.1:1"):
        async with open_async_checkpointer("redis://127.0.0.1:1/0", timeout_s=1.0):
            pass
