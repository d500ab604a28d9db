"""`ltc audit verify`: walk the hash-chained audit log."""

from __future__ import annotations

import sys

import click

from ltc import commands


@click.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the audit chain and report the first broken link (exit 1 if any)."""
    from ltc.audit import service

    settings = commands.settings()
    checked, broken = commands.run(settings, service.verify_chain)
    if broken:
        click.echo(f"BROKEN at event {broken.seq}: {broken.reason} "
                   f"({checked} events before it verified)")
        sys.exit(1)
    click.echo(f"audit chain intact: {checked} events verified")


COMMANDS = [audit]
