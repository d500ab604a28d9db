"""`ltc evidence …`: support commands for the stored videos and photos. `verify` also checks
generated documents, so it is on the desk (ltc.desk.cli) and added here by ltc.cli."""

from __future__ import annotations

import click


@click.group()
def evidence() -> None:
    """Assessment videos and photos (评估影像)."""


COMMANDS = [evidence]


if __name__ == "__main__":
    evidence()
