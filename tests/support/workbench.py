"""Reading a workbench page: its work queues and the navigation's badges."""

import re

_QUEUE = re.compile(r'data-queue="(\w+)"(?: data-nav="[^"]*")?>\s*'
                    r'<p class="queue-head"><a href="([^"]*)">[^<]*</a><b class="count">(\d+)</b>')
_BADGE = re.compile(r'<a href="([^"]*)"[^>]*>[^<]*<span class="badge" role="img" '
                    r'aria-label="(\d+) 项待办">')


def queue_counts(html: str) -> dict[str, int]:
    """{queue key: count} of the queues with work (those without are not listed)."""
    return {key: int(count) for key, _, count in _QUEUE.findall(html)}


def queue_links(html: str) -> dict[str, str]:
    return {key: href.replace("&amp;", "&") for key, href, _ in _QUEUE.findall(html)}


def badges(html: str) -> dict[str, int]:
    """{navigation href: the number on its badge}."""
    return {href: int(n) for href, n in _BADGE.findall(html)}
