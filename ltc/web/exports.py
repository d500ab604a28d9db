"""Downloads: CSV that opens correctly in Excel (SPEC §11: UTF-8 with a byte-order mark,
streamed row by row so a large region never sits in memory) and stored PDF documents."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

from litestar.response import File, Stream

from ltc import documents
from ltc.errors import NotFound

EXCEL_BOM = b"\xef\xbb\xbf"  # without it, Excel reads UTF-8 as the local code page


def csv_line(values: Sequence[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue().encode()


def csv_download(filename: str, header: Sequence[str],
                 rows: AsyncIterable[Sequence[Any]]) -> Stream:
    """A streamed attachment: the header line (after the BOM), then one line per row."""

    async def lines() -> AsyncIterator[bytes]:
        yield EXCEL_BOM + csv_line(header)
        async for row in rows:
            yield csv_line(row)

    return Stream(lines(), media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": f"attachment; filename={filename}"})

def pdf_file(sha256: str | None, filename: str) -> File:
    """A stored document, shown in the browser; not rendered yet: a 404 that says so."""
    if not sha256:
        raise NotFound("document_not_ready", "文件正在生成，请稍后刷新页面再下载")
    return File(path=documents.path_for(sha256), filename=filename,
                media_type="application/pdf", content_disposition_type="inline")
