"""The Lua scripts behind ``AcdState``: each makes one step of the ACD atomic in Redis (a
claim, a compare-and-set, a callback taken or dialled once) and publishes its notice in the
same step. Kept apart so ``cti.live.acd_state`` reads as the operations they serve."""

# KEYS: agent hashes; ARGV: now, changes channel, owner, then per key its call id and ring
# deadline. Each ready agent -> ringing for its call, the others untouched; returns 1/0 per key.
# One round trip for a whole matching pass.
CLAIM = """
local claimed = {}
for i, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'state') == 'ready' then
    redis.call('HSET', key, 'state', 'ringing', 'call_id', ARGV[2 * i + 2], 'since', ARGV[1],
      'reason', 'offered', 'owner', ARGV[3], 'until', ARGV[2 * i + 3])
    redis.call('HINCRBY', key, 'version', 1)
    redis.call('PUBLISH', ARGV[2], 'agent ' .. key)
    claimed[i] = 1
  else
    claimed[i] = 0
  end
end
return claimed
"""

# KEYS: agent hashes. Returns, flat, state|since|calls|talk_s|queues of each ('' when unset):
# what the strategies read, in one reply instead of one hash per agent to parse.
SNAPSHOT_FIELDS = 5
SNAPSHOT = """
local out = {}
for _, key in ipairs(KEYS) do
  local values = redis.call('HMGET', key, 'state', 'since', 'calls', 'talk_s', 'queues')
  for j = 1, 5 do out[#out + 1] = values[j] or '' end
end
return out
"""

# KEYS[1] entry hash; ARGV: number, lead id. An entry still in line becomes a callback.
REQUEST_CALLBACK = """
if redis.call('HEXISTS', KEYS[1], 'queue') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'callback_number', ARGV[1], 'lead_id', ARGV[2], 'owner', '')
return 1
"""

# KEYS: entry hash, queue zset, callbacks set; ARGV: instance, now, tombstone s, call id. Dial once.
MARK_DIALLED = """
if redis.call('HGET', KEYS[1], 'taken_by') ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], 'dialled_at') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'dialled_at', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('SREM', KEYS[3], ARGV[4])
return 1
"""

# KEYS[1] a callback's entry hash; ARGV: instance, now, lease seconds. Take the callback to
# serve it unless it was dialled, or another instance holds a lease younger than ``lease``.
TAKE_CALLBACK = """
if redis.call('HEXISTS', KEYS[1], 'callback_number') == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'dialled_at') == 1 then return 0 end
local taken_at = tonumber(redis.call('HGET', KEYS[1], 'taken_at') or '0')
if redis.call('HEXISTS', KEYS[1], 'taken_by') == 1 and taken_at > tonumber(ARGV[2]) - tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], 'taken_by', ARGV[1], 'taken_at', ARGV[2])
return 1
"""

# KEYS[1] agent hash; ARGV: expected version, changes channel, notice, then field/value pairs.
# Compare-and-set, and the notice published in the same step.
SET_IF_VERSION = """
if (redis.call('HGET', KEYS[1], 'version') or '0') ~= ARGV[1] then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'version', tostring(tonumber(ARGV[1]) + 1))
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"""
