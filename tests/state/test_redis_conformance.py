"""The official langgraph-checkpoint-conformance suite against both Redis savers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.report import ProgressCallbacks

from state.redis_saver import RedisSaver
from state.redis_saver_aio import AsyncRedisSaver

pytestmark = pytest.mark.services


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix in db 15, deleted afterwards."""
    value = f"test:conf:{uuid.uuid4().hex[:8]}"
    yield value
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{value}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


async def test_async_redis_saver_passes_full_conformance(redis_url: str, prefix: str) -> None:
    @checkpointer_test(name="AsyncRedisSaver")
    async def factory() -> AsyncIterator[AsyncRedisSaver]:
        async with AsyncRedisSaver.from_url(redis_url, prefix=prefix) as saver:
            yield saver

    report = await validate(factory, progress=ProgressCallbacks.verbose())
    report.print_report()
    assert report.conformance_level() == "FULL", report.to_dict()
    assert all(r.detected for r in report.results.values()), report.to_dict()


async def test_sync_redis_saver_passes_full_conformance(redis_url: str, prefix: str) -> None:
    @checkpointer_test(name="RedisSaver (sync, async via threads)")
    async def factory() -> AsyncIterator[RedisSaver]:
        with RedisSaver.from_url(redis_url, prefix=prefix, ttl_s=600) as saver:
            yield saver

    report = await validate(factory, progress=ProgressCallbacks.default())
    report.print_report()
    assert report.conformance_level() == "FULL", report.to_dict()
    assert all(r.detected for r in report.results.values()), report.to_dict()
