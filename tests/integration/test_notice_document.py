"""The notice document for the town and village boards, as a PDF: Chinese fonts embedded (so
no boxes), the text extractable, a PNG page from pdftoppm, and the same bytes when rendered
again."""

import subprocess
from datetime import date

import pytest
from support.cases import TOWN, FrozenClock, concluded_case, make_staff

from ltc import documents
from ltc.notices import service
from ltc.notices.jobs import render_batch_document
from ltc.notices.tables import NoticeBatch

pytestmark = pytest.mark.anyio


def _fonts(path) -> list[dict[str, str]]:
    """pdffonts' table: name and the `emb` column of every font."""
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    return [{"name": line.split()[0], "emb": line.split()[-5]} for line in lines]


def _text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def _first_page_png(path, prefix) -> None:
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path),
                    str(prefix)], check=True)


async def test_the_notice_pdf_shows_chinese_text_not_boxes(database_url, tmp_path,
                                                           monkeypatch) -> None:
    FrozenClock(monkeypatch, date(2026, 11, 20))
    monkeypatch.setenv("LTC_MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("LTC_PUBLIC_URL", "https://ltc.feicheng.example")
    staff = await make_staff(assessors=2)
    first = await concluded_case(staff, name="欧阳娜娜")
    second = await concluded_case(staff, name="李四")
    batch = await service.create_batch(staff.clerk, town_code=TOWN, assessment_ids=[
        first.assessment_id, second.assessment_id])
    await service.publish(staff.clerk, batch["id"], batch["version"])

    sha256 = await render_batch_document(batch["id"])
    stored = await NoticeBatch.select(NoticeBatch.document_sha256).first()
    assert stored["document_sha256"] == sha256
    path = documents.path_for(sha256, tmp_path / "media")

    fonts = _fonts(path)
    assert fonts and all(f["emb"] == "yes" for f in fonts), fonts
    assert any("Noto-Serif-CJK-SC" in f["name"] for f in fonts), fonts
    text = _text(path)
    for expected in ("长期护理保险失能等级评估结论公示", "欧阳**", "李*", "重度失能Ⅲ级",
                     "肥城市医疗保障局", "2026年11月21日", "https://ltc.feicheng.example/n/"):
        assert expected in text, expected
    assert "欧阳娜娜" not in text and first.resident_id not in text
    assert "第 1 页" in text or "第1页" in text.replace(" ", "")
    _first_page_png(path, tmp_path / "page")
    assert (tmp_path / "page-1.png").stat().st_size > 10_000

    # Rendering the same batch again gives the same document.
    assert await render_batch_document(batch["id"]) == sha256
