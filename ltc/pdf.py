"""PDF documents (notices for town and village boards, decision letters) from Jinja2 templates.

`render()` turns a template under `templates/` into HTML and the HTML into PDF bytes with
WeasyPrint. Rendering is CPU-bound and synchronous (a one-page notice: ~0.25 s, most of it
subsetting the CJK fonts; the first in a process ~0.15 s more, plus ~0.6 s to import WeasyPrint;
roughly 0.2 s per further page of table): async callers must not call it on the event loop but
through `await anyio.to_thread.run_sync(functools.partial(pdf.render, template, context))`.

The output is deterministic: the same template, context, fonts and WeasyPrint version give the
same bytes, in this process or any other, so a stored document's SHA-256 can be checked by
rendering its batch again. Nothing time-dependent or random goes into the file: no creation or
modification date unless the template sets one from its context (`<meta name=dcterms.created>`),
and the file identifier (/ID) is a hash of the content instead of a random value.

Documents can only read our own static files: `/static/…` (as on the web pages) and `static:…`
URLs map to `ltc/static/`; every other URL — the network, `file://`, `data:` — is refused and the
render fails with `ResourceRefused` rather than silently printing a document without it.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from ltc import money
from ltc.web import formatting

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
STATIC = Path(__file__).resolve().parent / "static"

# Relative URLs in documents resolve against this origin, so `/static/ltc.css` means the same as
# on the web pages. `.invalid` can never resolve (RFC 2606): only the fetcher below serves it.
BASE_URL = "https://ltc.invalid/"
_STATIC_PREFIX = BASE_URL + "static/"


class ResourceRefused(ValueError):
    """A document asked for something other than one of our static files."""


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yuan"] = money.yuan
    env.filters["letter_date"] = formatting.letter_date
    env.filters["iso_date"] = formatting.iso_date
    env.globals["qr_svg"] = qr_svg
    return env


def static_path(url: str) -> Path:
    """The file under `ltc/static/` that `url` names; `ResourceRefused` for any other URL."""
    if url.startswith(_STATIC_PREFIX):
        name = urlsplit(url).path.removeprefix("/static/")
    elif url.startswith("static:"):
        name = urlsplit(url).path.lstrip("/")
    else:
        raise ResourceRefused(f"documents may only use files under /static/, not {url[:200]!r}")
    path = (STATIC / unquote(name)).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file():
        raise ResourceRefused(f"no such static file: {url[:200]!r}")
    return path


class StaticOnlyFetcher(URLFetcher):
    """WeasyPrint URL fetcher serving `ltc/static/` and refusing everything else.

    `fail_on_errors=True`: a refused or missing resource stops the render instead of leaving a
    hole in an official document.
    """

    def __init__(self) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=True)

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        path = static_path(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            path.as_uri(), path.read_bytes(), headers={"Content-Type": content_type}
        )

    def open(self, url: Any, data: Any = None, timeout: Any = None) -> URLFetcherResponse:
        # urllib's own opener would fetch anything; every path goes through fetch().
        return self.fetch(url if isinstance(url, str) else url.full_url)


def qr_svg(url: str) -> str:
    """An inline `<svg class="qr">` QR code of `url`, for a template: `{{ qr_svg(url)|safe }}`.

    It has a viewBox and no size: the page's CSS sizes it (base.html: `svg.qr`, 28 mm).
    """
    code = segno.make(url, error="m", micro=False)
    return code.svg_inline(
        scale=1, border=2, omitsize=True, svgclass="qr", lineclass=None, dark="#000"
    )


def render_html(template: str, context: dict[str, Any]) -> str:
    """The HTML that `render()` would print; useful in tests and for previews."""
    return _ENV.get_template(template).render(context)


def render(template: str, context: dict[str, Any]) -> bytes:
    """Render `template` (a path under `templates/`, e.g. "pdf/notice.html") to PDF bytes.

    Synchronous and CPU-bound: from async code use `anyio.to_thread.run_sync`. Deterministic:
    equal inputs give byte-identical output (see the module docstring). Raises
    `ResourceRefused` if the document refers to anything but our static files.
    """
    return html_to_pdf(render_html(template, context))


def html_to_pdf(html: str) -> bytes:
    """PDF bytes of an HTML document; relative URLs resolve as on the web (`/static/…`).

    Synchronous and CPU-bound, like `render()`.
    """
    document = HTML(
        string=html, base_url=BASE_URL, url_fetcher=StaticOnlyFetcher(), media_type="print"
    )
    try:
        # pdf_identifier=True: the /ID is an MD5 of the content (pydyf), not random. No
        # CreationDate/ModDate unless the HTML has dcterms.created/modified meta elements.
        return document.write_pdf(pdf_identifier=True)
    except FatalURLFetchingError as error:  # a BaseException: turn it into an ordinary one
        cause = error.__cause__
        raise ResourceRefused(str(cause or error)) from error


def warm_up() -> None:
    """Render a tiny document once, so fonts are loaded and templates compiled before the first
    real document (import this module at boot too: importing WeasyPrint takes ~0.6 s).

    Workers call this at boot so the first real document is not the slow one.
    """
    render("pdf/base.html", {"bureau": {"name": "长期护理保险"}})


_ENV = _environment()
