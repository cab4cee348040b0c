"""Key layout and Lua scripts of the server's thread, run and event store (plain Redis).

    {P}:thread:{tenant}/{thread}   HASH   thread_id, tenant, created_at, updated_at, metadata,
                                          status, active_run, error
    {P}:threads:{tenant}           ZSET   thread ids scored by last update (epoch seconds)
    {P}:thread-runs:{tenant}/{t}   ZSET   run ids scored by creation
    {P}:run:{run}                  HASH   the run's fields (see `RunRecord`), its worker,
                                          attempt and cancel flag
    {P}:runs:active                SET    runs that are pending or running, for takeover
    {P}:events:{run}               STREAM the run's events (`event`, `data`); `__end__` closes it
    {P}:worker:{worker}            STRING a live worker's heartbeat, expiring after the lease
    {P}:upload:{tenant}:{id}       STRING a stored upload (attachment JSON), expiring
    {P}:cancel                     PUBSUB run ids whose cancellation was requested

Tenants and thread ids cannot contain `/` or `:` (checked at the boundary), so keys are
unambiguous. The scripts build a few keys from the prefix, so the store needs one Redis node
(not a cluster).
"""

from __future__ import annotations

END_EVENT = "__end__"


def thread_key(prefix: str, tenant: str, thread_id: str) -> str:
    """The hash of one thread."""
    return f"{prefix}:thread:{tenant}/{thread_id}"


def threads_key(prefix: str, tenant: str) -> str:
    """The tenant's thread index."""
    return f"{prefix}:threads:{tenant}"


def thread_runs_key(prefix: str, tenant: str, thread_id: str) -> str:
    """The runs of one thread."""
    return f"{prefix}:thread-runs:{tenant}/{thread_id}"


def run_key(prefix: str, run_id: str) -> str:
    """The hash of one run."""
    return f"{prefix}:run:{run_id}"


def events_key(prefix: str, run_id: str) -> str:
    """The event stream of one run."""
    return f"{prefix}:events:{run_id}"


def worker_key(prefix: str, worker_id: str) -> str:
    """One worker's heartbeat."""
    return f"{prefix}:worker:{worker_id}"


def upload_key(prefix: str, tenant: str, upload_id: str) -> str:
    """One stored upload."""
    return f"{prefix}:upload:{tenant}:{upload_id}"


# KEYS: thread, threads index, thread runs, run, active set
# ARGV: run id, thread id, tenant, now (ISO), now (score), create thread ('1'/'0'),
#       metadata JSON of a created thread, then the run hash as field/value pairs
CREATE_RUN = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[6] ~= '1' then return 'missing' end
  redis.call('HSET', KEYS[1], 'thread_id', ARGV[2], 'tenant', ARGV[3], 'created_at', ARGV[4],
             'updated_at', ARGV[4], 'metadata', ARGV[7], 'status', 'idle', 'active_run', '',
             'error', '')
end
local active = redis.call('HGET', KEYS[1], 'active_run')
if active and active ~= '' then return active end
redis.call('HSET', KEYS[1], 'active_run', ARGV[1], 'status', 'busy', 'updated_at', ARGV[4],
           'error', '')
redis.call('HSET', KEYS[4], unpack(ARGV, 8))
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[2])
redis.call('SADD', KEYS[5], ARGV[1])
return 'ok'
"""

# KEYS: run, thread, active set, events, threads index
# ARGV: run id, run status, thread status, now (ISO), now (score), events TTL, worker,
#       error JSON ('' for none), thread id
FINISH_RUN = r"""
if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[7] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated_at', ARGV[4])
if redis.call('HGET', KEYS[2], 'active_run') == ARGV[1] then
  redis.call('HSET', KEYS[2], 'active_run', '', 'status', ARGV[3], 'updated_at', ARGV[4],
             'error', ARGV[8])
  redis.call('ZADD', KEYS[5], ARGV[5], ARGV[9])
end
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[4], '*', 'event', '__end__', 'data', ARGV[2])
redis.call('EXPIRE', KEYS[4], ARGV[6])
return 1
"""

# KEYS: run; ARGV: worker giving the run up
RELEASE_RUN = r"""
if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'worker', '', 'status', 'pending')
return 1
"""

# KEYS: run; ARGV: claiming worker, worker key prefix ("{P}:worker:")
CLAIM_RUN = r"""
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'pending' and status ~= 'running' then return 0 end
local owner = redis.call('HGET', KEYS[1], 'worker')
if owner and owner ~= '' and redis.call('EXISTS', ARGV[2] .. owner) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'worker', ARGV[1], 'status', 'pending')
redis.call('HINCRBY', KEYS[1], 'attempt', 1)
return 1
"""

# KEYS: thread, threads index, thread runs; ARGV: thread id, run key prefix, events key prefix
DELETE_THREAD = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local active = redis.call('HGET', KEYS[1], 'active_run')
if active and active ~= '' then return active end
for _, run in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  redis.call('DEL', ARGV[2] .. run, ARGV[3] .. run)
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return 'ok'
"""

SCRIPTS: dict[str, str] = {
    "create_run": CREATE_RUN,
    "finish_run": FINISH_RUN,
    "release_run": RELEASE_RUN,
    "claim_run": CLAIM_RUN,
    "delete_thread": DELETE_THREAD,
}
