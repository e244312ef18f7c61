"""`runhook webhooks endpoints …|deliveries|replay|recover` (and `listen`, added by cli.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from runhook_dev.commands.common import api_options, parse_since, show, when

if TYPE_CHECKING:
    from runhook_client import Runhook

ENDPOINT_COLUMNS = (
    ("ID", lambda e: e.id),
    ("URL", lambda e: e.url),
    ("ENABLED", lambda e: "yes" if e.enabled else f"no ({e.disabled_reason or 'by hand'})"),
    ("EVENTS", lambda e: ",".join(e.events) if e.events else "all"),
    (
        "SUCCESS",
        lambda e: (
            f"{e.health.success_rate:.0%}" if e.health and e.health.success_rate is not None else ""
        ),
    ),
    ("FAILURES", lambda e: e.health.consecutive_failures if e.health else ""),
)
SECRET_COLUMNS = (*ENDPOINT_COLUMNS[:2], ("SECRET (shown once)", lambda e: e.secret))
DELIVERY_COLUMNS = (
    ("ID", lambda d: d.id),
    ("EVENT", lambda d: d.event_type),
    ("STATUS", lambda d: d.status),
    ("ATTEMPTS", lambda d: d.attempt_count),
    ("LAST CODE", lambda d: d.last_status_code),
    ("LAST ERROR", lambda d: d.last_error),
    ("CREATED", lambda d: when(d.created_at)),
)
DELIVERY_STATUSES = ("pending", "succeeded", "failed")


@click.group("webhooks")
def group() -> None:
    """Webhook endpoints, their deliveries, replay and recovery; `listen` for a local receiver."""


@group.group("endpoints")
def endpoints() -> None:
    """The organization's webhook endpoints (an admin key)."""


@endpoints.command("list")
@api_options
def list_endpoints(client: Runhook, output: str) -> None:
    """Every endpoint with its health."""
    show(output, client.webhooks.endpoints.list(), ENDPOINT_COLUMNS)


@endpoints.command("create")
@click.argument("url")
@click.option("--event", "events", multiple=True, help="An event type (repeat; default: all).")
@click.option("--task", "task_id", help="Only this task's runs.")
@click.option("--description")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@api_options
def create(
    client: Runhook,
    output: str,
    url: str,
    events: tuple[str, ...],
    task_id: str | None,
    description: str | None,
    disabled: bool,
) -> None:
    """Register URL; its signing secret is shown now and never again."""
    endpoint = client.webhooks.endpoints.create(
        url,
        events=list(events) or None,
        task_id=task_id,
        description=description,
        enabled=not disabled,
    )
    show(output, endpoint, SECRET_COLUMNS)


@endpoints.command("delete")
@click.argument("endpoint_id")
@api_options
def delete(client: Runhook, output: str, endpoint_id: str) -> None:
    """Delete an endpoint (its queued deliveries are dropped)."""
    client.webhooks.endpoints.delete(endpoint_id)
    if output == "table":
        click.echo(f"endpoint {endpoint_id} deleted")


@endpoints.command("rotate")
@click.argument("endpoint_id")
@click.option("--overlap", type=click.IntRange(0), help="Seconds the old secret still signs.")
@api_options
def rotate(client: Runhook, output: str, endpoint_id: str, overlap: int | None) -> None:
    """A new signing secret (shown now); the old one keeps signing for --overlap seconds."""
    endpoint = client.webhooks.endpoints.rotate_secret(endpoint_id, overlap_seconds=overlap)
    show(output, endpoint, SECRET_COLUMNS)


@endpoints.command("test")
@click.argument("endpoint_id")
@click.option("--event-type", help="Default task-run.completed.")
@api_options
def test(client: Runhook, output: str, endpoint_id: str, event_type: str | None) -> None:
    """Queue a signed sample event for the endpoint."""
    delivery = client.webhooks.endpoints.test(endpoint_id, event_type=event_type)
    show(output, delivery, DELIVERY_COLUMNS)


@group.command("deliveries")
@click.argument("endpoint_id")
@click.option("--status", type=click.Choice(DELIVERY_STATUSES))
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@api_options
def deliveries(
    client: Runhook, output: str, endpoint_id: str, status: str | None, limit: int
) -> None:
    """An endpoint's deliveries, newest first (with their attempts in -o json)."""
    import itertools

    found = client.webhooks.deliveries(endpoint_id, status=status, page_size=min(limit, 100))
    show(output, list(itertools.islice(found, limit)), DELIVERY_COLUMNS)


@group.command("replay")
@click.argument("delivery_id")
@api_options
def replay(client: Runhook, output: str, delivery_id: str) -> None:
    """Send a delivery again (same webhook-id, so receivers can deduplicate)."""
    show(output, client.webhooks.replay(delivery_id), DELIVERY_COLUMNS)


@group.command("recover")
@click.argument("endpoint_id")
@click.option("--since", required=True, help="An ISO time or 30m, 2h, 7d ago.")
@click.option("--until", help="An ISO time or a duration ago (default: now).")
@api_options
def recover(client: Runhook, output: str, endpoint_id: str, since: str, until: str | None) -> None:
    """Replay the endpoint's failed deliveries (dead letters) created in [since, until)."""
    result = client.webhooks.recover(
        endpoint_id, since=parse_since(since), until=parse_since(until) if until else None
    )
    if output == "json":
        show(output, result, ())
    else:
        more = "" if result.complete else " (time budget used up: run it again for the rest)"
        click.echo(
            f"recovered {result.recovered}, discarded {result.discarded} stale, "
            f"scanned {result.scanned}{more}"
        )
