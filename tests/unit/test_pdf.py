"""PDF documents: embedded Chinese fonts with real text, page footers, byte-identical re-renders,
no resources but our own static files. Checked with poppler-utils (pdffonts, pdftotext, pdftoppm),
which the test environment must have: a missing tool fails the suite instead of skipping it."""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from ltc import pdf
from ltc.grades import GRADE_LABELS

SELFTEST = "pdf/_selftest.html"
BUREAU = {"name": "肥城市医疗保障局", "phone": "0538-3221234", "address": "肥城市新城街道长山街1号"}


def context(rows: int = 3) -> dict:
    people = [("张秀英", 3), ("李建国", 4), ("王桂兰", 5)]
    return {
        "bureau": BUREAU,
        "issued_on": date(2026, 10, 1),
        "period": "2026年9月",
        "days": 5,
        "starts_on": date(2026, 10, 9),
        "ends_on": date(2026, 10, 15),
        "rows": [
            {"name": name, "resident_id_masked": "370983********1234",
             "village": "王瓜店街道东孔村", "grade_label": GRADE_LABELS[grade],
             "fen": 45000 + 15000 * grade}
            for name, grade in (people * rows)[:rows]
        ],
        "qr_url": "https://ltc.example.cn/notices/2026-09/fc-0001",
    }


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: the PDF tests need poppler-utils (apt-get install "
                    f"poppler-utils), see scripts/setup", pytrace=False)
    return path


def run(*args: str | Path) -> str:
    done = subprocess.run([tool(str(args[0])), *map(str, args[1:])],
                          capture_output=True, check=True, timeout=60)
    return done.stdout.decode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "selftest.pdf"
    path.write_bytes(pdf.render(SELFTEST, context()))
    return path


def pdffonts_rows(path: Path) -> list[dict[str, str]]:
    """pdffonts' table as dicts; columns cut at the dashes under the header ("type" has
    spaces in it, so splitting on whitespace would not do)."""
    header, dashes, *lines = run("pdffonts", path).splitlines()
    spans = [m.span() for m in re.finditer(r"-+", dashes)]
    names = [header[start:end].strip() for start, end in spans[:-1]] + ["object ID"]
    spans[-1] = (spans[-1][0], None)
    return [
        {name: line[start:end].strip() for name, (start, end) in zip(names, spans, strict=True)}
        for line in lines if line.strip()
    ]


def test_chinese_fonts_are_embedded_with_unicode_maps(document: Path) -> None:
    rows = pdffonts_rows(document)
    cjk = [row for row in rows if "CJK" in row["name"] and "Noto" in row["name"]]
    assert cjk, f"no Noto CJK font in {rows}"
    for row in rows:  # every font, CJK or not, travels with the file and maps to Unicode
        assert (row["emb"], row["uni"]) == ("yes", "yes"), row


def test_text_and_page_footer_extract_as_characters(document: Path) -> None:
    text = run("pdftotext", "-layout", document, "-")
    assert "长期护理保险失能等级评估结论公示" in text
    assert "肥城市医疗保障局" in text
    assert "重度失能Ⅱ级" in text and "¥1,050.00" in text
    assert "370983********1234" in text and "370983195001011234" not in text
    assert "2026年10月1日" in text and "联系电话：0538-3221234" in text
    # The margin box's spaces are drawn as gaps, not extracted as characters.
    assert re.search(r"第\s*1\s*页\s*/\s*共\s*1\s*页", text), text[-300:]
    assert "\ufffd" not in text


def test_footer_counts_pages_and_names_the_bureau_on_every_page(tmp_path: Path) -> None:
    path = tmp_path / "long.pdf"
    path.write_bytes(pdf.render(SELFTEST, context(rows=60)))
    pages = run("pdftotext", "-layout", path, "-").split("\f")[:-1]
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert re.search(rf"第\s*{number}\s*页\s*/\s*共\s*{len(pages)}\s*页", page)
        assert "肥城市医疗保障局" in page.strip().splitlines()[-1]
        assert "姓名" in page  # the table header repeats on every page


def test_same_context_renders_byte_identical() -> None:
    first, second = pdf.render(SELFTEST, context()), pdf.render(SELFTEST, context())
    assert sha256(first) == sha256(second)
    assert b"/ID [" in first  # an identifier, derived from the content
    assert pdf.render(SELFTEST, context(rows=2)) != first


def test_same_context_renders_byte_identical_in_another_process() -> None:
    """A stored notice's SHA-256 is checked by re-rendering its batch later, in some other
    worker: nothing may depend on the process (hash seed, object ids, clock)."""
    code = (
        "import pickle, sys\n"
        "from ltc import pdf\n"
        "sys.stdout.buffer.write(pdf.render(*pickle.load(sys.stdin.buffer)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps((SELFTEST, context())),
        capture_output=True, check=True, timeout=120,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert sha256(done.stdout) == sha256(pdf.render(SELFTEST, context()))


def test_creation_date_comes_from_the_context_not_the_clock(document: Path) -> None:
    info = run("pdfinfo", "-isodates", document)
    assert re.search(r"CreationDate:\s+2026-10-01T00:00:00\+08", info), info
    assert "ModDate" not in info


@pytest.mark.parametrize("url", [
    "http://example.com/x.png",
    "https://example.com/x.png",
    "file:///etc/passwd",
    "file://" + str(pdf.STATIC / "ltc.css"),  # even our own files: only through /static/
    "data:text/plain,hello",
    "ftp://example.com/x",
    "https://ltc.invalid/static/%2e%2e/pdf.py",
    "https://ltc.invalid/x.css",
    "static:../pdf.py",
    "static:missing.css",
    "/static/ltc.css",  # relative: WeasyPrint hands over absolute URLs only
])
def test_fetcher_refuses_everything_but_static_files(url: str) -> None:
    with pytest.raises(pdf.ResourceRefused):
        pdf.StaticOnlyFetcher().fetch(url)


@pytest.mark.parametrize("url", ["https://ltc.invalid/static/ltc.css", "static:ltc.css",
                                 "static:/ltc.css"])
def test_fetcher_serves_static_files(url: str) -> None:
    response = pdf.StaticOnlyFetcher()(url)
    try:
        assert response.read() == (pdf.STATIC / "ltc.css").read_bytes()
        assert response.content_type == "text/css"
    finally:
        response.close()


def test_a_document_using_a_refused_url_fails_instead_of_printing_without_it() -> None:
    for html in ('<img src="http://example.com/x.png">',
                 '<link rel="stylesheet" href="file:///etc/passwd">',
                 '<p style="background: url(/etc/passwd)">x</p>'):
        with pytest.raises(pdf.ResourceRefused):
            pdf.html_to_pdf(html)


def test_a_document_may_use_static_files_like_a_web_page() -> None:
    assert pdf.html_to_pdf('<link rel="stylesheet" href="/static/ltc.css"><p>公示</p>')


def test_missing_context_fails_loudly() -> None:
    with pytest.raises(UndefinedError):
        pdf.render_html("pdf/base.html", {})


def test_values_are_escaped_and_formatted() -> None:
    ctx = context()
    ctx["rows"][0]["name"] = "<b>张秀英</b>"
    html = pdf.render_html(SELFTEST, ctx)
    assert "&lt;b&gt;张秀英&lt;/b&gt;" in html
    assert "¥900.00" in html and "2026年10月9日" in html


def test_qr_code_is_inline_svg() -> None:
    svg = pdf.qr_svg("https://ltc.example.cn/n/1")
    assert svg.startswith("<svg") and 'class="qr"' in svg and "viewBox" in svg
    assert svg == pdf.qr_svg("https://ltc.example.cn/n/1")


def dark_pixels(data: bytes, tmp_path: Path) -> int:
    """Pixels darker than mid-grey on page 1 rendered in greyscale at 50 dpi."""
    (tmp_path / "doc.pdf").write_bytes(data)
    run("pdftoppm", "-gray", "-r", "50", "-f", "1", "-l", "1", "-singlefile",
        tmp_path / "doc.pdf", tmp_path / "page")
    raw = (tmp_path / "page.pgm").read_bytes()
    magic, width, height, _maxval, pixels = raw.split(maxsplit=4)
    assert magic == b"P5" and len(pixels) == int(width) * int(height)
    return sum(1 for value in pixels if value < 128)


def test_qr_code_is_drawn(tmp_path: Path) -> None:
    blank = pdf.html_to_pdf("")
    with_qr = pdf.html_to_pdf(pdf.qr_svg("https://ltc.example.cn/n/1"))
    assert dark_pixels(blank, tmp_path) == 0
    # Default size (no base.html CSS): about a third of the 33-module code is dark.
    assert dark_pixels(with_qr, tmp_path) > 100
    assert run("pdftotext", tmp_path / "doc.pdf", "-").strip() == ""  # paths, not text


def test_page_one_rasterises_to_png(document: Path, tmp_path: Path) -> None:
    run("pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", document, tmp_path / "page")
    [png] = tmp_path.glob("page*.png")
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000


def test_warm_up_renders() -> None:
    pdf.warm_up()
