"""Storing a new job: one Lua script stores its hash and queues it (or delays it), in one round trip.

Its command is encoded by hand on the multiplexed connection: the parts that do not change from one
job of a queue to the next once (:func:`_submit_frame`), the template's fields once per template
(:class:`hero.tasks.jobfields.JobHash`); building the ~45 arguments for ``hiredis.pack_command`` on
every enqueue was most of the enqueue's own CPU.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from redis.exceptions import NoScriptError

from hero.services.redis_mux import RedisMux, run_script
from hero.tasks import rqkeys
from hero.tasks.jobfields import JobHash, resp_bulk

# NOTE: one script stores the job and puts it on its queue (or in the delayed registry) so a
# call that redis-py retries after a dropped connection never enqueues twice (the job id is ours
# and the script refuses an existing one). For a periodic task it also claims
# the task's marker, refused while another instance is queued, delayed or running, so periodic
# tasks never pile up, whichever process enqueues. The score is epoch seconds with ms precision
# (RQ's own scheduling rounds to the second).
# KEYS: queue list | delayed zset, rq:queues [, periodic marker], job hash (last)
# ARGV: job id, score, own job id (may keep the marker), "queue" | "schedule", queue key,
#       job key prefix, hash field/value pairs...
# NOTE: what changes from one job to the next (job hash, id, score, own job id) sits together, so
# the enqueue encodes the rest of the command once per queue and template (_submit_frame).
SUBMIT_SCRIPT = """
local job = KEYS[#KEYS]
if redis.call('EXISTS', job) == 1 then return 2 end
if #KEYS == 4 then
  local current = redis.call('GET', KEYS[3])
  if current and current ~= ARGV[3] then
    local status = redis.call('HGET', ARGV[6] .. current, 'status')
    if status == 'queued' or status == 'scheduled' or status == 'started' then return 0 end
  end
  redis.call('SET', KEYS[3], ARGV[1])
end
redis.call('HSET', job, unpack(ARGV, 7))
if ARGV[4] == 'queue' then
  redis.call('RPUSH', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
redis.call('SADD', KEYS[2], ARGV[5])
return 1
"""


def store_job(commands: Any, job_id: str, job: JobHash, *, queue_key: str, target_key: str,
              score: float | None, marker_key: str | None = None, own_job_id: str = "") -> bool:
    """Store an RQ job and queue it (``score`` None) or delay it to ``score`` (epoch seconds), in one
    round trip on the store's ``commands`` (hero.services.redis_mux: multiplexed on a real Redis).

    With ``marker_key`` (a periodic task), False when another instance is queued, delayed or running.
    """
    job_key = rqkeys.JOB_PREFIX + job_id
    score_text = repr(score or 0.0)
    if isinstance(commands, RedisMux):
        # NOTE: the command as RESP by hand: its unchanging parts from _submit_frame, the template's
        # fields already encoded (jobfields.JobHash); the same bytes hiredis.pack_command would make.
        before, after = _submit_frame(target_key, marker_key, queue_key, score is None, len(job))
        varying = (job_key.encode(), job_id.encode(), score_text.encode(), own_job_id.encode())
        packed = b"".join([before, _BULKS_4 % (len(varying[0]), varying[0], len(varying[1]), varying[1],
                                                len(varying[2]), varying[2], len(varying[3]), varying[3]),
                           after, job.shared_resp, _bulks(job.own)])
        try:
            return bool(commands.execute_packed(packed, 1)[0] != 0)
        except NoScriptError:
            pass  # NOTE: Redis does not know the script yet: run_script's EVAL loads it
    keys, args = _submit_keys_and_args(target_key, marker_key, queue_key, score is None)
    fields = [item for pair in job.as_dict().items() for item in pair]
    return bool(run_script(commands, _SUBMIT_SHA, SUBMIT_SCRIPT, [*keys, job_key],
                           [job_id, score_text, own_job_id, *args, *fields]) != 0)


def _submit_keys_and_args(target_key: str, marker_key: str | None, queue_key: str,
                          now: bool) -> tuple[list[str], list[str]]:
    """SUBMIT_SCRIPT's keys before the job hash, and its arguments after the job's id, score and own id."""
    keys = [target_key, rqkeys.QUEUES] + ([marker_key] if marker_key else [])
    return keys, ["queue" if now else "schedule", queue_key, rqkeys.JOB_PREFIX]


_BULKS_4 = b"$%d\r\n%s\r\n" * 4
#: (target, marker, queue key, now, fields) → the RESP of SUBMIT_SCRIPT's EVALSHA before and after
#: the job's own arguments (bounded: cleared past 1024 shapes).
_FRAMES: dict[tuple[Any, ...], tuple[bytes, bytes]] = {}


def _submit_frame(target_key: str, marker_key: str | None, queue_key: str, now: bool, fields: int) -> tuple[bytes, bytes]:
    shape = (target_key, marker_key, queue_key, now, fields)
    frame = _FRAMES.get(shape)
    if frame is None:
        keys, args = _submit_keys_and_args(target_key, marker_key, queue_key, now)
        count = 3 + len(keys) + 1 + 3 + len(args) + 2 * fields
        before = b"*%d\r\n" % count + _bulks_of(["EVALSHA", _SUBMIT_SHA, str(len(keys) + 1), *keys])
        frame = (before, _bulks_of(args))
        if len(_FRAMES) >= 1024:
            _FRAMES.clear()
        _FRAMES[shape] = frame
    return frame


def _bulks_of(items: Sequence[str | bytes]) -> bytes:
    return b"".join([resp_bulk(item) for item in items])


def _bulks(fields: Mapping[str, Any]) -> bytes:
    """Hash fields (str or bytes values) as RESP bulk strings, name then value."""
    return _bulks_of([item for pair in fields.items() for item in pair])


#: SUBMIT_SCRIPT's SHA1 (what EVALSHA takes).
_SUBMIT_SHA = hashlib.sha1(SUBMIT_SCRIPT.encode("utf-8")).hexdigest()
