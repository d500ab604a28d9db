"""Downloads: CSV that opens correctly in Excel (SPEC §11: UTF-8 with a byte-order mark,
streamed row by row so a large region never sits in memory) and stored PDF documents."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import anyio
from litestar.datastructures import UploadFile
from litestar.response import File, Stream

from ltc import documents
from ltc.errors import InvalidInput, NotFound

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


# A page of a keyset-paged list: its rows and the cursor of the next page (None: the last).
Page = tuple[Sequence[Any], Any]


async def paged_csv(filename: str, header: Sequence[str],
                    fetch: Callable[[Any], Awaitable[Page]],
                    line: Callable[[Any], Sequence[Any]], *,
                    audited: Callable[[], Awaitable[None]]) -> Stream:
    """A list with its filters as CSV for Excel, read page by page (`fetch(None)` is the
    first page, `fetch(cursor)` the next) so a large region never sits in memory, one `line`
    per row. The first page is read before `audited` records the export and the response
    starts, so a bad filter is a normal error page and an export that failed is not logged;
    once streaming, a failure could only cut the file short."""
    rows, cursor = await fetch(None)
    await audited()

    async def lines() -> AsyncIterator[Sequence[Any]]:
        page_rows, next_cursor = rows, cursor
        while True:
            for row in page_rows:
                yield line(row)
            if next_cursor is None:
                return
            page_rows, next_cursor = await fetch(next_cursor)

    return csv_download(filename, header, lines())


def keyset_page(rows: Sequence[dict[str, Any]], size: int) -> Page:
    """A page of rows paged by id: a full page may have a next one after its last id."""
    return rows, (rows[-1]["id"] if len(rows) == size and rows else None)


async def stored_file(sha256: str, filename: str, *, object_type: str, object_id: Any,
                      suffix: str = ".pdf", media_type: str = "application/pdf",
                      disposition: str = "inline") -> File:
    """A stored document, served only while its bytes match `sha256` (documents.VERIFIED);
    otherwise FileTampered, which the app records against (object_type, object_id)."""
    path = documents.path_for(sha256, suffix=suffix)
    problem = await anyio.to_thread.run_sync(documents.VERIFIED.problem, path, sha256)
    if problem is not None:
        raise documents.FileTampered("document_tampered", sha256, problem, object_type,
                                     object_id)
    return File(path=path, filename=filename, media_type=media_type,
                content_disposition_type=disposition)


async def pdf_file(sha256: str | None, filename: str, *, object_type: str,
                   object_id: Any) -> File:
    """A stored PDF, shown in the browser; not rendered yet: a 404 that says so."""
    if not sha256:
        raise NotFound("document_not_ready", "文件正在生成，请稍后刷新页面再下载")
    return await stored_file(sha256, filename, object_type=object_type, object_id=object_id)


CSV_UPLOAD_LIMIT = 10 * 1024 * 1024


async def csv_upload(upload: Any) -> bytes:
    """An uploaded CSV file's bytes (at most 10 MB), or InvalidInput naming the `file` field."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("file_required", "请选择要导入的CSV文件", {"file": "请选择文件"})
    if not upload.filename.lower().endswith(".csv"):
        raise InvalidInput("not_csv", "请上传 .csv 文件（Excel 另存为“CSV UTF-8（逗号分隔）”）",
                           {"file": "请上传 .csv 文件"})
    data = await upload.read(CSV_UPLOAD_LIMIT + 1)
    if len(data) > CSV_UPLOAD_LIMIT:
        raise InvalidInput("file_too_large", "文件不能超过10MB", {"file": "文件超过10MB"})
    return data
