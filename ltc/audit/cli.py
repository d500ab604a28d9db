"""`ltc audit …`: the audit log's keys, its verification and its signed checkpoints.

`verify` exits 0 when the chain and every checkpoint hold, 1 when something was tampered
with (naming the first bad event or checkpoint), 2 when it cannot verify (a key is missing).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ltc import commands
from ltc.settings import Settings

if TYPE_CHECKING:
    from ltc.audit.service import Verification


@click.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("init-keys")
def audit_init_keys() -> None:
    """Create the audit key and the checkpoint signing key pair where missing (mode 0600)."""
    from ltc.audit import keys

    settings = commands.settings()
    created = keys.init_keys(settings)
    for path in created:
        click.echo(f"created {path}")
    if not created:
        click.echo("audit keys already exist; nothing changed")


@audit.command("verify")
def audit_verify() -> None:
    """Verify the chain with the audit key and every signed checkpoint (exit 1 if tampered)."""
    from ltc.audit import service

    settings = commands.settings()
    try:
        verification = commands.run(settings, lambda: service.verify(settings))
    except service.CannotVerify as exc:
        click.echo(f"CANNOT VERIFY: {exc}; the log was not checked "
                   "(README \"Security for operators\")")
        sys.exit(2)
    _report(settings, verification)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Verify the log, then sign its head into the checkpoint directory."""
    from ltc.audit import service

    settings = commands.settings()
    try:
        verification, written = commands.run(settings, lambda: service.checkpoint(settings))
    except service.CannotVerify as exc:
        click.echo(f"CANNOT VERIFY: {exc}; no checkpoint written")
        sys.exit(2)
    _report(settings, verification)
    if written:
        click.echo(f"checkpoint written: {written}")
    else:
        click.echo("no new checkpoint: the log is empty or its head has one already")


def _report(settings: Settings, verification: Verification) -> None:
    if broken := verification.broken:
        click.echo(f"BROKEN at event {broken.seq}: {broken.reason} "
                   f"({verification.checked} events before it verified)")
        sys.exit(1)
    if bad := verification.bad_checkpoint:
        click.echo(f"BAD CHECKPOINT {bad[0]}: {bad[1]} "
                   f"({verification.checked} events verified)")
        sys.exit(1)
    click.echo(f"audit chain intact: {verification.checked} events verified, "
               f"{verification.checkpoints} signed checkpoints hold "
               f"({settings.audit_checkpoint_dir})")
    if verification.legacy:
        click.echo(f"note: events 1–{verification.legacy} predate the audit key (unkeyed); "
                   "only a checkpoint taken after them protects them")
    if not verification.checkpoints:
        click.echo("note: no checkpoint yet; run `ltc audit checkpoint`")


COMMANDS = [audit]
