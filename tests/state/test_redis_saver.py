"""RedisSaver specifics the conformance suite leaves out: TTL, odd ids, global list, key layout."""

from __future__ import annotations

import pytest
import redis
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)

from state.redis_saver import RedisSaver
from tests.state.graphs import build_turn_graph

pytestmark = pytest.mark.services


def _keys(redis_url: str, prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(redis_url)
    try:
        return list(client.scan_iter(match=f"{prefix}:*"))
    finally:
        client.close()


def test_ttl_is_set_on_every_key_and_refreshed_on_write(redis_url, redis_prefix):
    with RedisSaver.from_url(redis_url, prefix=redis_prefix, ttl_s=100) as saver:
        graph = build_turn_graph(saver)
        graph.invoke({"thread": "t"}, {"configurable": {"thread_id": "ttl"}})
        for key in _keys(redis_url, redis_prefix):
            assert 0 < saver.client.ttl(key) <= 100, key
        saver.client.expire(_keys(redis_url, redis_prefix)[0], 5)
        graph.invoke({"thread": "t"}, {"configurable": {"thread_id": "ttl"}})
        assert all(saver.client.ttl(k) > 50 for k in _keys(redis_url, redis_prefix))


def test_thread_ids_with_separators_and_braces_do_not_collide(redis_url, redis_prefix):
    odd = ["a:b", "a", "{x}", "%3A", "a:b:c", "é/ü 1"]
    with RedisSaver.from_url(redis_url, prefix=redis_prefix) as saver:
        for tid in odd:
            for ns in ("", "child:1|grand:2"):
                cp = generate_checkpoint(channel_values={"who": f"{tid}/{ns}"})
                cp["channel_versions"] = {"who": 1}
                saver.put(
                    generate_config(tid, checkpoint_ns=ns), cp, generate_metadata(), {"who": 1}
                )
        for tid in odd:
            for ns in ("", "child:1|grand:2"):
                tup = saver.get_tuple(generate_config(tid, checkpoint_ns=ns))
                assert tup.checkpoint["channel_values"] == {"who": f"{tid}/{ns}"}
                assert tup.config["configurable"]["thread_id"] == tid
        listed = {
            (t.config["configurable"]["thread_id"], t.config["configurable"]["checkpoint_ns"])
            for t in saver.list(None)
        }
        assert listed == {(t, ns) for t in odd for ns in ("", "child:1|grand:2")}
        assert len(list(saver.list(None, limit=3))) == 3
        saver.delete_thread("a:b")
        assert saver.get_tuple(generate_config("a:b")) is None
        assert saver.get_tuple(generate_config("a:b:c")) is not None


def test_delete_thread_leaves_no_keys_behind(redis_url, redis_prefix):
    with RedisSaver.from_url(redis_url, prefix=redis_prefix) as saver:
        graph = build_turn_graph(saver)
        config = {"configurable": {"thread_id": "gone"}}
        graph.invoke({"thread": "g"}, config)
        saver.copy_thread("gone", "copy")
        saver.delete_thread("gone")
        saver.delete_thread("copy")
    assert _keys(redis_url, redis_prefix) == []


def test_keep_latest_refuses_threads_with_delta_channels(redis_url, redis_prefix):
    with RedisSaver.from_url(redis_url, prefix=redis_prefix) as saver:
        first = saver.put(generate_config("plain"), generate_checkpoint(), generate_metadata(), {})
        saver.put(first, generate_checkpoint(), generate_metadata(step=1), {})
        delta_md = generate_metadata(counters_since_delta_snapshot={"messages": [1, 1]})
        saver.put(generate_config("delta"), generate_checkpoint(), delta_md, {})
        with pytest.raises(NotImplementedError, match="delta"):
            saver.prune(["plain", "delta"])
        assert len(list(saver.list(generate_config("plain")))) == 2
        saver.prune(["plain"])
        assert len(list(saver.list(generate_config("plain")))) == 1
