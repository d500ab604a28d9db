"""`ltc returnvisit …`: draw a month's return-visit sample (as the scheduler does on the 1st)
and replay a stored draw from its seed and candidates — the same two commands as the spot
checks' (ltc.spotchecks.cli.monthly_draw_group).

Exit codes: 0 done (or already drawn); 1 a replay that does not match; 2 refused input, with
the reason on stderr (a stable error code first).
"""

from __future__ import annotations

from ltc.spotchecks.cli import monthly_draw_group

returnvisit = monthly_draw_group(
    "returnvisit", "Return-visit sampling of accepted home visits (回访抽样).", "次回访",
    "ltc.returnvisits.service")

COMMANDS = [returnvisit]
