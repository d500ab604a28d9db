"""The access log never carries a resident ID or a phone number: a search by ID puts it in
the query string, and uvicorn logs every request line. Any run of seven or more digits in a
logged path holding eleven digits or more — an 18-character resident ID or an 11-digit
phone, also when typed with spaces or dashes — keeps only its last two. Shorter numbers
(record ids, dates) stay readable."""

from __future__ import annotations

import logging
import re

# A number as typed into a search box: digits, maybe separated by spaces (+ or %20) or
# dashes, maybe ending in the resident ID's check character X.
_NUMBER = re.compile(r"(?<![\dA-Za-z])\d(?:\d|\+|%20|-)*(?:[Xx](?![A-Za-z\d]))?")
_SHOWN = 2
_LONG = 11


def _mask(number: str) -> str:
    digits = sum(c.isdigit() or c in "Xx" for c in number.replace("%20", ""))
    if digits < _LONG:
        return number
    kept, out = 0, []
    for c in reversed(number.replace("%20", "+")):
        if c.isdigit() or c in "Xx":
            out.append(c if kept < _SHOWN else "*")
            kept += 1
        else:
            out.append(c)
    return "".join(reversed(out))


def masked(text: str) -> str:
    """`/people?q=370983195001011235` → `/people?q=****************35`."""
    return _NUMBER.sub(lambda m: _mask(m[0]), text)


# The same number as typed, not URL-encoded: digits maybe separated by spaces or dashes.
_TYPED_NUMBER = re.compile(r"(?<![\dA-Za-z])\d[\d\s-]*(?:[Xx](?![A-Za-z\d]))?")


def masked_search(text: str) -> str:
    """A search string as typed, fit for an audit row: `370983 19500101 1235` →
    `****** ******** **35`; a name or a short number stays as typed."""
    return _TYPED_NUMBER.sub(lambda m: _mask(m[0]), text)


class MaskedAccessLog(logging.Filter):
    """Masks the request line's path in uvicorn's access records (args: client address,
    method, path, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], masked(args[2]), *args[3:])
        return True


def install() -> None:
    """Once per process (idempotent): on uvicorn's access logger."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, MaskedAccessLog) for f in logger.filters):
        logger.addFilter(MaskedAccessLog())
