"""The pure schedule logic (runhook.schedules) and the schedule part of a definition."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runhook.schedules import (
    Recurrence,
    ScheduleError,
    client_request_id,
    parse_fire_time,
    rate_seconds,
    schedule_name,
    task_of_schedule,
)
from runhook.tasks.definition import TaskDefinition, schedule_problems, validate_definition

T0 = datetime(2026, 11, 30, 10, 7, 30, tzinfo=UTC)
STEPS = [{"id": "say", "type": "log", "message": "hi"}]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("every 15 minutes", 900),
        ("Every 1 minute", 60),
        ("rate(2 hours)", 7200),
        ("rate( 1 day )", 86400),
        ("every   3  days", 259200),
    ],
)
def test_rates_in_both_spellings(text: str, seconds: int) -> None:
    assert rate_seconds(text) == seconds


@pytest.mark.parametrize(
    "text", ["every 0 minutes", "every 5 seconds", "rate(5)", "15 minutes", "every 400 days", ""]
)
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        rate_seconds(text)
    assert caught.value.field == "rate"


def test_a_rate_fires_on_the_epoch_grid() -> None:
    every_15 = Recurrence.parse(cron=None, rate="every 15 minutes")
    assert every_15.next_after(T0) == at("2026-11-30T10:15:00+00:00")
    # Exactly on a slot: the next one, never the same one again.
    assert every_15.next_after(at("2026-11-30T10:15:00+00:00")) == at("2026-11-30T10:30:00+00:00")
    assert every_15.aws_expression() == "rate(15 minutes)"
    assert Recurrence.parse(cron=None, rate="every 120 minutes").aws_expression() == "rate(2 hours)"
    assert Recurrence.parse(cron=None, rate="rate(1 day)").aws_expression() == "rate(1 day)"


def test_cron_in_a_time_zone_across_dst() -> None:
    # 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
    nine = Recurrence.parse(cron="0 9 * * *", rate=None, timezone="Europe/Paris")
    assert nine.next_after(T0) == at("2026-12-01T08:00:00+00:00")
    assert nine.next_after(at("2026-07-01T00:00:00+00:00")) == at("2026-07-01T07:00:00+00:00")


def test_cron_weekdays_translate_to_eventbridge() -> None:
    weekdays = Recurrence.parse(cron="30 8 * * 1-5", rate=None, timezone="America/New_York")
    assert weekdays.aws_expression() == "cron(30 8 ? * MON-FRI *)"
    sunday = Recurrence.parse(cron="0 0 * * 0,7", rate=None)
    assert sunday.aws_expression() == "cron(0 0 ? * SUN,SUN *)"
    monthly = Recurrence.parse(cron="0 12 1 * *", rate=None)
    assert monthly.aws_expression() == "cron(0 12 1 * ? *)"
    assert Recurrence.parse(cron="*/5 * * * *", rate=None).aws_expression() == (
        "cron(*/5 * * * ? *)"
    )
    lower = Recurrence.parse(cron="0 8 * jan-mar mon-fri", rate=None)
    assert lower.aws_expression() == "cron(0 8 ? JAN-MAR MON-FRI *)"
    # 2026-11-30 is a Monday: the next weekday 08:30 in New York is today, 13:30 UTC.
    assert weekdays.next_after(T0) == at("2026-11-30T13:30:00+00:00")


@pytest.mark.parametrize(
    ("cron", "field"),
    [
        ("* * * *", "cron"),
        ("* * * * * *", "cron"),
        ("61 * * * *", "cron"),
        ("0 0 L * *", "cron"),
        ("0 0 * * 5#2", "cron"),
        ("0 0 1 * MON", "cron"),
        ("bogus", "cron"),
        ("0-59/99999999999999999 * * * *", "cron"),
        ("0 0 31 2 *", "cron"),
        ("² * * * *", "cron"),
        ("0 " * 99 + "0", "cron"),
    ],
)
def test_bad_cron_expressions_are_refused(cron: str, field: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        Recurrence.parse(cron=cron, rate=None)
    assert caught.value.field == field


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "Europe/Paris\x00"])
def test_bad_time_zones_are_refused(zone: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        Recurrence.parse(cron="0 * * * *", rate=None, timezone=zone)
    assert caught.value.field == "timezone"


def test_exactly_one_of_cron_or_rate() -> None:
    with pytest.raises(ScheduleError):
        Recurrence.parse(cron=None, rate=None)
    with pytest.raises(ScheduleError):
        Recurrence.parse(cron="* * * * *", rate="every 5 minutes")


def test_minimum_interval() -> None:
    every_minute = Recurrence.parse(cron="* * * * *", rate=None)
    every_minute.check_interval(60, T0)
    with pytest.raises(ScheduleError, match="more often than every 300 seconds"):
        every_minute.check_interval(300, T0)
    # Mostly hourly, but twice within ten minutes once a day: the shortest gap counts.
    uneven = Recurrence.parse(cron="0,10 3 * * *", rate=None)
    assert uneven.min_gap_seconds(T0) == 600
    with pytest.raises(ScheduleError):
        Recurrence.parse(cron=None, rate="every 1 minute").check_interval(120, T0)


def test_the_latest_slot_at_or_before_a_moment() -> None:
    every_minute = Recurrence.parse(cron="* * * * *", rate=None)
    assert every_minute.latest_until(T0) == at("2026-11-30T10:07:00+00:00")
    on_slot = at("2026-11-30T10:08:00+00:00")
    assert every_minute.latest_until(on_slot) == on_slot  # at: included
    nine = Recurrence.parse(cron="0 9 * * *", rate=None, timezone="Europe/Paris")
    assert nine.latest_until(T0) == at("2026-11-30T08:00:00+00:00")
    assert nine.latest_until(at("2026-11-30T07:59:59+00:00")) == at("2026-11-29T08:00:00+00:00")
    every_15 = Recurrence.parse(cron=None, rate="every 15 minutes")
    assert every_15.latest_until(T0) == at("2026-11-30T10:00:00+00:00")
    a_year_later = at("2027-11-30T10:07:30+00:00")
    assert every_minute.latest_until(a_year_later) == at("2027-11-30T10:07:00+00:00")


def test_idempotency_key_per_task_and_fire_time() -> None:
    task = "0190e3b2-0000-7000-8000-000000000001"
    other = "0190e3b2-0000-7000-8000-000000000002"
    fire = parse_fire_time("2026-11-30T10:15:00Z")
    key = client_request_id(task, fire)
    assert key.startswith("schedule:2026-11-30T10:15:00Z:")
    assert key == client_request_id(task, parse_fire_time("2026-11-30T10:15:00.000+00:00"))
    assert key != client_request_id(task, parse_fire_time("2026-11-30T10:16:00Z"))
    assert key != client_request_id(other, fire)
    assert len(key) <= 255
    with pytest.raises(ScheduleError):
        parse_fire_time("yesterday")
    assert task_of_schedule(schedule_name(task)) == task
    assert task_of_schedule("other") is None


def _definition(schedule: object) -> TaskDefinition:
    definition, errors = validate_definition({"name": "t", "steps": STEPS, "schedule": schedule})
    assert definition is not None, errors
    return definition


def test_definition_schedule_object_defaults_and_problems() -> None:
    definition = _definition({"cron": "0 9 * * *", "timezone": "Europe/Paris"})
    assert definition.document()["schedule"] == {
        "cron": "0 9 * * *",
        "timezone": "Europe/Paris",
        "enabled": True,
        "overlap": "skip",
    }
    assert schedule_problems(definition, min_interval_seconds=60, now=T0) == []
    bad_zone = _definition({"cron": "0 9 * * *", "timezone": "Nowhere/City"})
    assert schedule_problems(bad_zone, min_interval_seconds=60, now=T0) == [
        {"path": "schedule.timezone", "message": "unknown IANA time zone 'Nowhere/City'"}
    ]
    too_often = _definition({"rate": "every 1 minute"})
    assert schedule_problems(too_often, min_interval_seconds=300, now=T0)[0]["path"] == (
        "schedule.rate"
    )


def test_definition_schedule_inputs_are_checked_against_the_task() -> None:
    definition, _ = validate_definition(
        {
            "name": "t",
            "steps": STEPS,
            "inputs": {"type": "object", "required": ["city"]},
            "schedule": {"rate": "every 5 minutes", "inputs": {}},
        }
    )
    assert definition is not None
    problems = schedule_problems(definition, min_interval_seconds=60, now=T0)
    assert problems == [{"path": "schedule.inputs", "message": "'city' is a required property"}]


def test_definition_schedule_shape_errors() -> None:
    _, errors = validate_definition(
        {"name": "t", "steps": STEPS, "schedule": {"cron": "* * * * *", "overlap": "queue"}}
    )
    assert errors and errors[0]["path"].startswith("task.schedule")


def test_a_stored_string_schedule_still_loads_paused() -> None:
    stored = TaskDefinition.model_validate({"name": "t", "steps": STEPS, "schedule": "0 * * * *"})
    assert stored.schedule is not None
    assert (stored.schedule.cron, stored.schedule.enabled) == ("0 * * * *", False)
    nonsense = TaskDefinition.model_validate({"name": "t", "steps": STEPS, "schedule": "x y"})
    assert nonsense.schedule is not None and nonsense.schedule.cron == "x y"
    rate = TaskDefinition.model_validate({"name": "t", "steps": STEPS, "schedule": "rate(1 day)"})
    assert rate.schedule is not None and rate.schedule.rate == "rate(1 day)"
    # Sent as a string today: meant to fire.
    sent = _definition("every 10 minutes")
    assert sent.schedule is not None and sent.schedule.enabled
