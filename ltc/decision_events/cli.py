"""`ltc events …`: decision-event subscribers, re-sending, and a delivery worker (the same
service functions as the admin pages, audited as the command line).

Exit codes: 0 done; 2 bad input (every problem listed, nothing written); 1 anything else."""

from __future__ import annotations

import sys
from typing import Any

import click

from ltc import commands
from ltc.decision_events.rules import EventType
from ltc.identity import Actor, ActorKind

EXIT_BAD_INPUT = 2


def _actor(command: str) -> Actor:
    return Actor(kind=ActorKind.system, id=None, name=f"命令行 ltc events {command}",
                 role=None)


def _run(factory: Any) -> Any:
    from ltc.db import StaleWrite
    from ltc.errors import DomainError

    try:
        return commands.run(commands.settings(), factory)
    except DomainError as exc:
        click.echo(f"{exc.code}: {exc.message}", err=True)
        for field, problem in exc.fields.items():
            click.echo(f"  {field}: {problem}", err=True)
    except StaleWrite:
        click.echo("stale_write: 订阅方刚被其他人修改过，请重试", err=True)
    sys.exit(EXIT_BAD_INPUT)


@click.group()
def events() -> None:
    """Decision events out: subscribers, re-sending, delivery."""


@events.group()
def subscriber() -> None:
    """Partner systems that receive decision events."""


@subscriber.command("add")
@click.option("--name", required=True)
@click.option("--url", required=True, help="http(s) address the events are POSTed to")
@click.option("--type", "types", multiple=True, required=True,
              type=click.Choice([str(t) for t in EventType]), help="Repeat for several")
def add(name: str, url: str, types: tuple[str, ...]) -> None:
    """Register a subscriber; prints its signing secret, which is never shown again."""
    from ltc.decision_events import service

    row, secret = _run(lambda: service.create(_actor("subscriber add"), name, url,
                                              list(types)))
    click.echo(f"subscriber {row['id']}: {row['name']} → {row['url']}")
    click.echo(f"secret (shown once): {secret}")


@subscriber.command("list")
def list_() -> None:
    """Every subscriber, its state, types and dead deliveries."""
    from ltc.decision_events import service

    async def everything() -> list[dict[str, Any]]:
        rows, _ = await service.list_subscribers(_actor("subscriber list"), page_size=10_000)
        return rows

    for row in _run(everything):
        state = "active" if row["active"] else "paused"
        click.echo(f"{row['id']}\t{state}\t{row['name']}\t{row['url']}\t"
                   f"{','.join(row['event_types'])}\tdead={row['dead']}")


def _toggle(subscriber_id: int, pausing: bool) -> None:
    from ltc.decision_events import service

    async def toggle() -> dict[str, Any]:
        actor = _actor("subscriber pause" if pausing else "subscriber resume")
        current = await service.subscriber(actor, subscriber_id)
        act = service.pause if pausing else service.resume
        return await act(actor, subscriber_id, current["version"])

    row = _run(toggle)
    click.echo(f"subscriber {row['id']}: {'paused' if pausing else 'active'}")


@subscriber.command("pause")
@click.argument("subscriber_id", type=int)
def pause(subscriber_id: int) -> None:
    """Stop sending; events keep accumulating."""
    _toggle(subscriber_id, True)


@subscriber.command("resume")
@click.argument("subscriber_id", type=int)
def resume(subscriber_id: int) -> None:
    """Send again, catching up in order per stream."""
    _toggle(subscriber_id, False)


@events.command("resend")
@click.argument("delivery_id", type=int, required=False)
@click.option("--dead-of", "subscriber_id", type=int, help="Every dead delivery of a subscriber")
def resend(delivery_id: int | None, subscriber_id: int | None) -> None:
    """Send a dead or delivered delivery again (fresh 24-hour window)."""
    from ltc.decision_events import service

    if (delivery_id is None) == (subscriber_id is None):
        raise click.UsageError("give a DELIVERY_ID or --dead-of SUBSCRIBER_ID")
    if subscriber_id is not None:
        count = _run(lambda: service.resend_dead(_actor("resend"), subscriber_id))
        click.echo(f"{count} dead deliveries back to pending")
    else:
        _run(lambda: service.resend(_actor("resend"), delivery_id))
        click.echo(f"delivery {delivery_id} back to pending")


@events.command("deliver")
@click.option("--until-idle", is_flag=True, help="Stop when nothing is due (else run forever)")
def deliver(until_idle: bool) -> None:
    """A delivery worker; run as many as needed, on any machine with the database."""
    from ltc.decision_events import delivery

    settings = commands.settings()
    if until_idle:
        count = commands.run(settings, lambda: delivery.deliver_until_idle(settings))
        click.echo(f"{count} attempts")
    else:
        commands.run(settings, lambda: delivery.deliver_forever(settings))


COMMANDS = [events]
