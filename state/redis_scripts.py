"""Key layout and Lua scripts of the plain-Redis checkpointer (no modules needed)."""

from __future__ import annotations

# Key layout. Every key of a thread carries the escaped thread id as a hash tag, so a thread
# lives in one cluster slot; `ns` is an escaped checkpoint namespace.
#
#   {P}:{T}:ns          HASH   escaped ns -> raw ns (the namespaces this thread has)
#   {P}:{T}:rs          SET    run ids that wrote checkpoints in this thread
#   {P}:{T}:delta       STRING "1" once the thread stores DeltaChannel data (prune refuses it)
#   {P}:{T}:i:{ns}      ZSET   checkpoint ids, score 0, so lexicographic = chronological (uuid6)
#   {P}:{T}:c:{ns}      HASH   "<id>\0cp" checkpoint, "<id>\0md" metadata, "<id>\0pa" parent id,
#                              "<id>\0bl" JSON list of the blob fields the checkpoint references
#   {P}:{T}:b:{ns}      HASH   JSON [channel, version] -> serialized channel value
#   {P}:{T}:wx:{ns}     ZSET   "<id>\0<task_id>\0<idx>", score 0: the writes of a checkpoint
#                              are one ZRANGEBYLEX away
#   {P}:{T}:w:{ns}      HASH   same member -> serialized pending write
#   {P}:run:{R}         SET    JSON [T, ns, id] of every checkpoint a run created
#
# Serialized values are `type \0 bytes` from the saver's serde. Thread ids, namespaces, run ids
# and checkpoint ids are escaped so that ":", "{", "}" and "%" cannot create ambiguous keys.

NS_KINDS: tuple[str, ...] = ("i", "c", "b", "wx", "w")


def escape(part: str) -> str:
    """Escape one key component so that separators and hash-tag braces stay unambiguous."""
    return part.replace("%", "%25").replace(":", "%3A").replace("{", "%7B").replace("}", "%7D")


def unescape(part: str) -> str:
    """Invert `escape`."""
    return part.replace("%7D", "}").replace("%7B", "{").replace("%3A", ":").replace("%25", "%")


def thread_key(prefix: str, thread: str, kind: str, ns: str | None = None) -> str:
    """Key of one structure of a thread; `thread` and `ns` are already escaped."""
    base = f"{prefix}:{{{thread}}}:{kind}"
    return base if ns is None else f"{base}:{ns}"


def run_key(prefix: str, run: str) -> str:
    """Key of the set of checkpoints one run created; `run` is already escaped."""
    return f"{prefix}:run:{run}"


def thread_pattern(prefix: str) -> str:
    """SCAN pattern matching the namespace map of every thread under `prefix`."""
    return f"{prefix}:{{*}}:ns"


# Shared Lua helpers. They build the same keys as the Python functions above.
_PRELUDE = r"""
local function tkey(p, t, kind, ns)
  local k = p .. ':{' .. t .. '}:' .. kind
  if ns then return k .. ':' .. ns end
  return k
end

local NS_KINDS = {'i', 'c', 'b', 'wx', 'w'}

local function refresh_ttl(p, t, ttl)
  if ttl <= 0 then return end
  for _, ns in ipairs(redis.call('HKEYS', tkey(p, t, 'ns'))) do
    for _, kind in ipairs(NS_KINDS) do
      redis.call('EXPIRE', tkey(p, t, kind, ns), ttl)
    end
  end
  for _, kind in ipairs({'ns', 'rs', 'delta'}) do
    redis.call('EXPIRE', tkey(p, t, kind), ttl)
  end
end

local function drop_checkpoint(p, t, ns, id)
  redis.call('ZREM', tkey(p, t, 'i', ns), id)
  redis.call('HDEL', tkey(p, t, 'c', ns), id .. '\0cp', id .. '\0md', id .. '\0pa', id .. '\0bl')
  local wx = tkey(p, t, 'wx', ns)
  local members = redis.call('ZRANGEBYLEX', wx, '[' .. id .. '\0', '(' .. id .. '\1')
  for i = 1, #members, 500 do
    local chunk = {unpack(members, i, math.min(i + 499, #members))}
    redis.call('HDEL', tkey(p, t, 'w', ns), unpack(chunk))
    redis.call('ZREM', wx, unpack(chunk))
  end
end

local function drop_namespace(p, t, ns)
  for _, kind in ipairs(NS_KINDS) do
    redis.call('DEL', tkey(p, t, kind, ns))
  end
  redis.call('HDEL', tkey(p, t, 'ns'), ns)
end

-- Delete blobs no remaining checkpoint of the namespace references; drop an empty namespace.
local function collect_blobs(p, t, ns)
  local ids = redis.call('ZRANGE', tkey(p, t, 'i', ns), 0, -1)
  if #ids == 0 and redis.call('EXISTS', tkey(p, t, 'wx', ns)) == 0 then
    drop_namespace(p, t, ns)
    return
  end
  local keep = {}
  local cps = tkey(p, t, 'c', ns)
  for _, id in ipairs(ids) do
    local bl = redis.call('HGET', cps, id .. '\0bl')
    if bl then
      for _, field in ipairs(cjson.decode(bl)) do keep[field] = true end
    end
  end
  local blobs = tkey(p, t, 'b', ns)
  for _, field in ipairs(redis.call('HKEYS', blobs)) do
    if not keep[field] then redis.call('HDEL', blobs, field) end
  end
end

local function forget_thread_runs(p, t)
  local rs = tkey(p, t, 'rs')
  for _, run in ipairs(redis.call('SMEMBERS', rs)) do
    local rk = p .. ':run:' .. run
    for _, member in ipairs(redis.call('SMEMBERS', rk)) do
      if cjson.decode(member)[1] == t then redis.call('SREM', rk, member) end
    end
  end
end

local function delete_thread(p, t)
  forget_thread_runs(p, t)
  for _, ns in ipairs(redis.call('HKEYS', tkey(p, t, 'ns'))) do
    drop_namespace(p, t, ns)
  end
  for _, kind in ipairs({'ns', 'rs', 'delta'}) do
    redis.call('DEL', tkey(p, t, kind))
  end
end
"""

# KEYS: none. ARGV: prefix, thread, ttl, ns, raw ns, id, checkpoint, metadata, parent,
# blob-field list, run id ("" for none), delta flag, then blob field/value pairs.
PUT = (
    _PRELUDE
    + r"""
local p, t, ttl, ns, id = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[6]
redis.call('HSET', tkey(p, t, 'ns'), ns, ARGV[5])
redis.call('ZADD', tkey(p, t, 'i', ns), 0, id)
redis.call('HSET', tkey(p, t, 'c', ns),
  id .. '\0cp', ARGV[7], id .. '\0md', ARGV[8], id .. '\0pa', ARGV[9], id .. '\0bl', ARGV[10])
if #ARGV > 12 then
  redis.call('HSET', tkey(p, t, 'b', ns), unpack(ARGV, 13, #ARGV))
end
local run = ARGV[11]
if run ~= '' then
  redis.call('SADD', tkey(p, t, 'rs'), run)
  local rk = p .. ':run:' .. run
  redis.call('SADD', rk, cjson.encode({t, ns, id}))
  if ttl > 0 then redis.call('EXPIRE', rk, ttl) end
end
if ARGV[12] == '1' then redis.call('SET', tkey(p, t, 'delta'), '1') end
refresh_ttl(p, t, ttl)
return 1
"""
)

# KEYS: none. ARGV: prefix, thread, ttl, ns, raw ns, then (member, value, overwrite) triples.
# Regular writes keep the first value per (task, idx); special writes (errors, interrupts)
# overwrite, as in LangGraph's own savers.
PUT_WRITES = (
    _PRELUDE
    + r"""
local p, t, ttl, ns = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
redis.call('HSET', tkey(p, t, 'ns'), ns, ARGV[5])
local wx, w = tkey(p, t, 'wx', ns), tkey(p, t, 'w', ns)
for i = 6, #ARGV, 3 do
  local member, value = ARGV[i], ARGV[i + 1]
  if ARGV[i + 2] == '1' then
    redis.call('HSET', w, member, value)
    redis.call('ZADD', wx, 0, member)
  elseif redis.call('HSETNX', w, member, value) == 1 then
    redis.call('ZADD', wx, 0, member)
  end
end
refresh_ttl(p, t, ttl)
return 1
"""
)

# KEYS: none. ARGV: prefix, thread, ns, id ("" = latest).
# Returns nil or {id, checkpoint, metadata, parent, blob fields, blob values,
# write members, write values}.
GET = (
    _PRELUDE
    + r"""
local p, t, ns, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if id == '' then
  local latest = redis.call('ZREVRANGE', tkey(p, t, 'i', ns), 0, 0)
  if #latest == 0 then return nil end
  id = latest[1]
end
local f = redis.call('HMGET', tkey(p, t, 'c', ns),
  id .. '\0cp', id .. '\0md', id .. '\0pa', id .. '\0bl')
if not f[1] then return nil end
local fields = cjson.decode(f[4])
local values = {}
if #fields > 0 then values = redis.call('HMGET', tkey(p, t, 'b', ns), unpack(fields)) end
local members = redis.call('ZRANGEBYLEX', tkey(p, t, 'wx', ns),
  '[' .. id .. '\0', '(' .. id .. '\1')
local writes = {}
if #members > 0 then writes = redis.call('HMGET', tkey(p, t, 'w', ns), unpack(members)) end
return {id, f[1], f[2], f[3], fields, values, members, writes}
"""
)

# KEYS: none. ARGV: prefix, thread.
DELETE_THREAD = (
    _PRELUDE
    + r"""
delete_thread(ARGV[1], ARGV[2])
return 1
"""
)

# KEYS: none. ARGV: prefix, then escaped run ids.
DELETE_FOR_RUNS = (
    _PRELUDE
    + r"""
local p = ARGV[1]
local touched = {}
for i = 2, #ARGV do
  local run = ARGV[i]
  local rk = p .. ':run:' .. run
  for _, member in ipairs(redis.call('SMEMBERS', rk)) do
    local ref = cjson.decode(member)
    drop_checkpoint(p, ref[1], ref[2], ref[3])
    redis.call('SREM', tkey(p, ref[1], 'rs'), run)
    touched[ref[1] .. '\0' .. ref[2]] = ref
  end
  redis.call('DEL', rk)
end
for _, ref in pairs(touched) do collect_blobs(p, ref[1], ref[2]) end
return 1
"""
)

# KEYS: none. ARGV: prefix, ttl, strategy ("keep_latest" | "delete"), then escaped threads.
# Returns the first thread that uses a DeltaChannel (nothing is pruned then), or "".
PRUNE = (
    _PRELUDE
    + r"""
local p, ttl, strategy = ARGV[1], tonumber(ARGV[2]), ARGV[3]
if strategy == 'keep_latest' then
  for i = 4, #ARGV do
    if redis.call('EXISTS', tkey(p, ARGV[i], 'delta')) == 1 then return ARGV[i] end
  end
end
for i = 4, #ARGV do
  local t = ARGV[i]
  if strategy == 'delete' then
    delete_thread(p, t)
  else
    for _, ns in ipairs(redis.call('HKEYS', tkey(p, t, 'ns'))) do
      local ids = redis.call('ZRANGE', tkey(p, t, 'i', ns), 0, -2)
      for _, id in ipairs(ids) do drop_checkpoint(p, t, ns, id) end
      collect_blobs(p, t, ns)
    end
    refresh_ttl(p, t, ttl)
  end
end
return ''
"""
)

# KEYS: none. ARGV: prefix, ttl, source thread, target thread.
COPY_THREAD = (
    _PRELUDE
    + r"""
local p, ttl, src, dst = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local function copy_key(from, to)
  local dumped = redis.call('DUMP', from)
  if dumped then redis.call('RESTORE', to, 0, dumped, 'REPLACE') end
end
for _, ns in ipairs(redis.call('HKEYS', tkey(p, src, 'ns'))) do
  for _, kind in ipairs(NS_KINDS) do
    copy_key(tkey(p, src, kind, ns), tkey(p, dst, kind, ns))
  end
  redis.call('HSET', tkey(p, dst, 'ns'), ns, redis.call('HGET', tkey(p, src, 'ns'), ns))
end
copy_key(tkey(p, src, 'delta'), tkey(p, dst, 'delta'))
for _, run in ipairs(redis.call('SMEMBERS', tkey(p, src, 'rs'))) do
  local rk = p .. ':run:' .. run
  for _, member in ipairs(redis.call('SMEMBERS', rk)) do
    local ref = cjson.decode(member)
    if ref[1] == src then redis.call('SADD', rk, cjson.encode({dst, ref[2], ref[3]})) end
  end
  redis.call('SADD', tkey(p, dst, 'rs'), run)
end
refresh_ttl(p, dst, ttl)
return 1
"""
)
