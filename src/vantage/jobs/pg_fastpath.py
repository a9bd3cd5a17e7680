"""PostgreSQL's hot path: claim a job, and finish a stage, each in one statement.

On PostgreSQL a round trip costs far more than the SQL it carries, so the two writes every job
makes (claim + start its first unfinished stage; finish a stage + start the next or finish the
job) are single data-modifying CTEs run in autocommit: one round trip, one implicit transaction
each. They do exactly what the portable path in `vantage.jobs.leases` does on SQLite, under the
same fencing guard (``id``, ``epoch``, ``state = 'running'``); the tests run both.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine

from vantage.jobs.claims import Claim
from vantage.jobs.queue import event_row
from vantage.jobs.records import JobState

# {pipelines} is either empty or "AND pipeline = ANY(:pipelines)"; nothing else is formatted in.
CLAIM_CTES = """
claimed AS (
    UPDATE jobs SET
        state = 'running', lease_owner = :owner, lease_expires_at = :claim_expires,
        epoch = epoch + 1, attempts = attempts + 1,
        started_at = coalesce(started_at, :now), updated_at = :now,
        current_stage = (
            SELECT s.name FROM job_stages s
            WHERE s.job_id = jobs.id AND s.state <> 'succeeded'
            ORDER BY s.position LIMIT 1
        )
    WHERE id = (
        SELECT id FROM jobs
        WHERE state = 'queued' AND run_after <= :now {pipelines}
        ORDER BY priority DESC, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, pipeline, params, epoch, attempts, max_attempts, progress, current_stage,
              notify
),
started AS (
    UPDATE job_stages s SET
        state = 'running', progress = 0, error = NULL, executions = s.executions + 1,
        epoch = c.epoch, started_at = :now, finished_at = NULL
    FROM claimed c
    WHERE s.job_id = c.id AND s.name = c.current_stage
    RETURNING s.position
),
claim_logged AS (
    INSERT INTO job_events (job_id, at, kind, state, stage, progress, message, epoch, worker_id)
    SELECT c.id, :now, 'claimed', 'running', NULL, c.progress, 'attempt ' || c.attempts,
           c.epoch, :owner
    FROM claimed c
    UNION ALL
    SELECT c.id, :now, 'stage_started', 'running', c.current_stage, c.progress, c.current_stage,
           c.epoch, :owner
    FROM claimed c WHERE c.current_stage IS NOT NULL
)
"""

# The claimed job and all its stages as [position, name, weight, state, output] lists.
CLAIM_ROW = """
c.id, c.pipeline, c.params, c.epoch, c.attempts, c.max_attempts, c.progress, c.notify,
(SELECT json_agg(json_build_array(s.position, s.name, s.weight, s.state, s.output)
                 ORDER BY s.position)
 FROM job_stages s WHERE s.job_id = c.id) AS stages
"""

FINISH_CTES = """
fenced AS (
    UPDATE jobs SET
        state = :job_state, progress = :progress, message = :message,
        current_stage = :next_name, lease_owner = :lease_owner,
        lease_expires_at = :job_expires, finished_at = :finished_at, updated_at = :now
    WHERE id = :job_id AND epoch = :epoch AND state = 'running'
    RETURNING id
),
done AS (
    UPDATE job_stages SET
        state = 'succeeded', progress = 1, output = CAST(:output AS json), finished_at = :now
    WHERE job_id = (SELECT id FROM fenced) AND position = :position
),
following AS (
    UPDATE job_stages SET
        state = 'running', progress = 0, error = NULL, executions = executions + 1,
        epoch = :epoch, started_at = :now, finished_at = NULL
    WHERE job_id = (SELECT id FROM fenced) AND position = :next_position
),
finish_logged AS (
    INSERT INTO job_events (job_id, at, kind, state, stage, progress, message, epoch, worker_id)
    SELECT f.id, :now, e.kind, e.state, e.stage, e.progress, e.message, :epoch, :owner
    FROM fenced f,
         json_to_recordset(CAST(:events AS json))
             AS e(kind text, state text, stage text, progress float8, message text)
)
"""

CLAIM_SQL = f"WITH {CLAIM_CTES} SELECT {CLAIM_ROW} FROM claimed c"
FINISH_SQL = f"WITH {FINISH_CTES} SELECT count(*) FROM fenced"
# Finish a job's last stage and claim the next job: one round trip and one commit per job.
FINISH_AND_CLAIM_SQL = f"""
WITH {FINISH_CTES}, {CLAIM_CTES}
SELECT (SELECT count(*) FROM fenced) AS fenced, {CLAIM_ROW}
FROM (SELECT 1) AS one LEFT JOIN claimed c ON true
"""


def _pyformat(sql: str) -> str:
    """``:name`` placeholders as psycopg's ``%(name)s`` (leaving ``::`` casts alone)."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


#: The event fields the finish statement takes from JSON (the rest are bound separately).
EVENT_FIELDS = ("kind", "state", "stage", "progress", "message")
_PIPELINE_FILTER = {False: "", True: "AND pipeline = ANY(:pipelines)"}
_BOTH = (False, True)


def _finish_params(values: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    return {**values, "output": json.dumps(values["output"]), "events": json.dumps(events)}


class PgFastPath:
    """Runs the one-statement claim and finish on its own autocommit psycopg connection.

    The connection bypasses SQLAlchemy's per-statement machinery (a measurable share of a
    job's client CPU) and is reopened after a failure.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: psycopg.Connection[Any] | None = None
        self._claim = {
            some: _pyformat(CLAIM_SQL.format(pipelines=_PIPELINE_FILTER[some])) for some in _BOTH
        }
        self._finish_and_claim = {
            some: _pyformat(FINISH_AND_CLAIM_SQL.format(pipelines=_PIPELINE_FILTER[some]))
            for some in _BOTH
        }
        self._finish = _pyformat(FINISH_SQL)

    def _execute(self, sql: str, params: dict[str, Any]) -> Any:
        if self._connection is None or self._connection.closed:
            raw = self.engine.raw_connection()
            connection = raw.driver_connection
            if not isinstance(connection, psycopg.Connection):
                raise TypeError("the PostgreSQL fast path needs the psycopg driver")
            raw.detach()  # ours for good: never returned to the pool half-configured
            connection.autocommit = True
            connection.row_factory = namedtuple_row
            self._connection = connection
        try:
            return self._connection.execute(sql, params).fetchone()
        except psycopg.OperationalError:
            self._connection.close()
            self._connection = None
            raise

    def claim(
        self,
        owner: str,
        now: datetime,
        expires: datetime,
        pipelines: list[str] | None,
    ) -> Any | None:
        """The claimed job's row (id, pipeline, params, epoch, attempts, max_attempts,
        progress, stages as [position, name, weight, state, output] lists), or None."""
        params = {"owner": owner, "now": now, "claim_expires": expires, "pipelines": pipelines}
        return self._execute(self._claim[pipelines is not None], params)

    def finish(self, values: dict[str, Any], events: list[dict[str, Any]]) -> bool:
        """Finish a stage under the fencing guard; False when the guard matched no job."""
        row = self._execute(self._finish, _finish_params(values, events))
        return bool(row[0])

    def finish_and_claim(
        self,
        values: dict[str, Any],
        events: list[dict[str, Any]],
        claim_expires: datetime,
        pipelines: list[str] | None,
    ) -> Any:
        """Finish a job's last stage and claim the next job in one statement.

        Returns a row with ``fenced`` (1 if the finish passed the guard, else 0) and the
        claimed job's columns as `claim` returns them (``id`` is None when nothing was due).
        The claim happens even when the guard failed: the worker is free either way.
        """
        params = {
            **_finish_params(values, events),
            "claim_expires": claim_expires,
            "pipelines": pipelines,
        }
        return self._execute(self._finish_and_claim[pipelines is not None], params)

    def close(self) -> None:
        """Close the connection (a later call reopens it)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def finish_values(
    claim: Claim,
    position: int,
    following: int | None,
    output: dict[str, Any],
    events: list[dict[str, Any]],
    now: datetime,
    lease_ttl: timedelta,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Parameters and wire events of `FINISH_SQL` for stage ``position`` of ``claim``;
    ``events`` holds the stage_succeeded event and gets the job's next event appended."""
    final = following is None
    progress = events[0]["progress"]
    if final:
        kind, state, stage, message = "succeeded", JobState.SUCCEEDED, None, "succeeded"
    else:
        kind, state = "stage_started", JobState.RUNNING
        stage = message = claim.stages[following or 0].name
    events.append(
        event_row(
            claim.job_id,
            kind,
            state,
            at=now,
            progress=100.0 if final else progress,
            stage=stage,
            message=message,
        )
    )
    values = {
        "job_id": claim.job_id,
        "epoch": claim.epoch,
        "owner": claim.owner,
        "now": now,
        "position": position,
        "output": output,
        "job_state": JobState.SUCCEEDED if final else JobState.RUNNING,
        "progress": 100.0 if final else progress,
        "message": "succeeded" if final else f"{claim.stages[position].name} done",
        "next_name": None if final else claim.stages[following or 0].name,
        "next_position": -1 if final else following,
        "lease_owner": None if final else claim.owner,
        "job_expires": None if final else now + lease_ttl,
        "finished_at": now if final else None,
    }
    wire = [{k: v for k, v in e.items() if k in EVENT_FIELDS} for e in events]
    return values, wire
