"""The single-table key layout (docs/data-model.md has the access-pattern table).

Every key string the code writes is built here, so the layout lives in one place.
"""

from __future__ import annotations

import zlib


def org_pk(org_id: str) -> str:
    return f"ORG#{org_id}"


ORG_SK = "ORG"


def usage_sk(period: str) -> str:
    return f"USAGE#{period}"


def endpoint_sk(endpoint_id: str) -> str:
    return f"ENDPOINT#{endpoint_id}"


ENDPOINT_PREFIX = "ENDPOINT#"


def key_lookup_pk(key_hash: str) -> str:
    return f"KEY#{key_hash}"


KEY_SK = "KEY"


def apikey_sk(key_id: str) -> str:
    return f"APIKEY#{key_id}"


APIKEY_PREFIX = "APIKEY#"


def task_pk(task_id: str) -> str:
    return f"TASK#{task_id}"


TASK_SK = "TASK"


# A scheduled task's firing state (runhook.dal.schedules): its last scheduled run.
TASK_SCHEDULE_SK = "SCHEDULE"


def task_version_sk(version: int) -> str:
    return f"V#{version:06d}"


def org_tasks_gsi1(org_id: str) -> str:
    return f"ORG#{org_id}#TASKS"


def run_pk(run_id: str) -> str:
    return f"RUN#{run_id}"


def run_id_of(pk: str) -> str:
    """The run id in a run partition's key (the inverse of `run_pk`)."""
    return pk.removeprefix("RUN#")


RUN_SK = "RUN"


def task_runs_gsi1(task_id: str) -> str:
    return f"TASK#{task_id}"


def org_runs_gsi2(org_id: str) -> str:
    return f"ORG#{org_id}"


def created_sort(created_at: str, item_id: str) -> str:
    return f"{created_at}#{item_id}"


def idempotency_pk(task_id: str, client_request_id: str) -> str:
    return f"IDEMP#{task_id}#{client_request_id}"


IDEMPOTENCY_SK = "IDEMP"


def log_sk(log_id: str) -> str:
    """Log ids are time-ordered UUIDs, so the sort key orders entries by time."""
    return f"LOG#{log_id}"


LOG_PREFIX = "LOG#"


def step_sk(index: int) -> str:
    return f"STEP#{index:04d}"


STEP_PREFIX = "STEP#"


def delivery_pk(delivery_id: str) -> str:
    return f"DELIVERY#{delivery_id}"


DELIVERY_SK = "DELIVERY"
# The delivery's body, written once at dispatch, never indexed (issue 16: the head is
# rewritten on every attempt; keeping the body off it keeps those writes at 1 KB).
DELIVERY_PAYLOAD_SK = "PAYLOAD"


def attempt_sk(n: int) -> str:
    return f"ATTEMPT#{n:03d}"


ATTEMPT_PREFIX = "ATTEMPT#"


def endpoint_deliveries_gsi1(endpoint_id: str) -> str:
    return f"ENDPOINT#{endpoint_id}"


def endpoint_attempts_gsi1(endpoint_id: str) -> str:
    """Attempts by endpoint, newest first: the endpoint's recent success rate."""
    return f"ENDPOINT#{endpoint_id}#ATTEMPTS"


def attempt_sort(at: str, delivery_id: str, n: int) -> str:
    return f"{at}#{delivery_id}#{n:03d}"


def rate_pk(key_id: str) -> str:
    return f"RATE#{key_id}"


def rate_window_sk(index: int) -> str:
    return f"W#{index}"


# -- the sweeper's sparse index (gsi3): only items that may need sweeping carry its keys --
SWEEP_SHARDS = 8  # partitions per kind: the writes of a busy stage spread over eight


def sweep_shard(item_id: str) -> int:
    """The shard of an item in gsi3 (stable: the same id always lands in the same one)."""
    return zlib.crc32(item_id.encode()) % SWEEP_SHARDS


def active_runs_gsi3(shard: int) -> str:
    """PENDING/RUNNING runs (the key goes on any terminal transition)."""
    return f"RUNS#ACTIVE#{shard}"


def due_deliveries_gsi3(shard: int) -> str:
    """Pending deliveries, by when their next attempt is due (the key goes when they end)."""
    return f"DELIVERIES#DUE#{shard}"


# -- run tags (issue 14): one item per (run, tag), indexed in gsi2 under the org and tag --
def run_tag_sk(tag: str) -> str:
    return f"TAG#{tag}"


RUN_TAG_PREFIX = "TAG#"


def org_tag_runs_gsi2(org_id: str, tag: str) -> str:
    """The organization's runs carrying `tag`, newest first by `<createdAt>#<run>`."""
    return f"ORG#{org_id}#TAG#{tag}"


# -- bulk cancel jobs (issue 14) ------------------------------------------------------------
def bulk_cancel_pk(job_id: str) -> str:
    return f"BULKCANCEL#{job_id}"


BULK_CANCEL_SK = "JOB"
