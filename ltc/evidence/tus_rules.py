"""The tus 1.0.0 protocol's header rules (https://tus.io/protocols/resumable-upload), as
LTC serves them: core, creation, expiration and termination. Pure functions: no I/O."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from email.utils import format_datetime

from ltc.errors import DomainError, InvalidInput

VERSION = "1.0.0"
EXTENSIONS = "creation,expiration,termination"
PATCH_TYPE = "application/offset+octet-stream"
# Metadata is a few short values: a longer header is not an upload of ours.
MAX_METADATA = 4096


class TusVersionUnsupported(DomainError):
    status_code = 412


class OffsetMismatch(DomainError):
    status_code = 409


class UploadLocked(DomainError):
    status_code = 423


class UploadGone(DomainError):
    status_code = 410


def check_version(header: str | None) -> None:
    """Every request but OPTIONS names the protocol version it speaks."""
    if header != VERSION:
        raise TusVersionUnsupported("tus_version_unsupported",
                                    f"上传协议版本不受支持（服务器支持 tus {VERSION}）")


def parse_length(header: str | None, name: str) -> int:
    """A non-negative decimal integer header (Upload-Length, Upload-Offset)."""
    if header is None or not header.isascii() or not header.isdigit() or len(header) > 19:
        raise InvalidInput(f"tus_bad_{name.lower().replace('-', '_')}",
                           f"请求头 {name} 缺失或不是非负整数")
    return int(header)


def parse_metadata(header: str | None) -> dict[str, str]:
    """`key base64value,key2 base64value2,flag`: keys unique ASCII without spaces or commas,
    values UTF-8 once decoded; a key without a value is an empty string."""
    if not header:
        return {}
    if len(header) > MAX_METADATA:
        raise InvalidInput("tus_bad_metadata", "Upload-Metadata 过长")
    found: dict[str, str] = {}
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        key = parts[0]
        if not key or len(parts) > 2 or not key.isascii() or key in found:
            raise InvalidInput("tus_bad_metadata", "Upload-Metadata 格式有误")
        try:
            found[key] = (base64.b64decode(parts[1], validate=True).decode("utf-8")
                          if len(parts) == 2 else "")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidInput("tus_bad_metadata",
                               f"Upload-Metadata 中 {key} 的值不是 Base64 编码的 UTF-8") from None
    return found


def check_patch(content_type: str | None, claimed: int, offset: int) -> None:
    """A PATCH carries the declared media type and continues exactly where the upload is."""
    if (content_type or "").split(";")[0].strip().lower() != PATCH_TYPE:
        raise DomainError("tus_bad_content_type", f"PATCH 的 Content-Type 必须是 {PATCH_TYPE}",
                          status_code=415)
    if claimed != offset:
        raise OffsetMismatch("tus_offset_mismatch",
                             f"上传位置不符：服务器已收到 {offset} 字节，请求从 {claimed} 字节续传")


def check_fits(offset: int, received: int, length: int) -> None:
    """No PATCH may carry bytes beyond the length declared at creation."""
    if offset + received > length:
        raise DomainError("tus_beyond_length", "发送的数据超过了创建上传时声明的文件大小",
                          status_code=413)


# One owner's unfinished uploads at once: each may be up to the largest file and is kept for
# days, so without a bound a single account could fill the disk with abandoned ones.
MAX_OPEN_UPLOADS = 3
OPEN_BYTES_FACTOR = 2  # the open uploads' declared lengths together: at most 2 × the largest


def check_open_uploads(open_lengths: list[int], length: int, max_size: int) -> None:
    """A new upload of `length` bytes next to the owner's unfinished ones (their declared
    lengths): refused when there are too many, or together they would declare too much."""
    if len(open_lengths) >= MAX_OPEN_UPLOADS:
        raise DomainError("tus_too_many_open",
                          f"您已有{len(open_lengths)}个未完成的上传，请先完成或删除其中的上传"
                          f"再开始新的（最多同时{MAX_OPEN_UPLOADS}个）", status_code=409)
    limit = OPEN_BYTES_FACTOR * max_size
    if sum(open_lengths) + length > limit:
        raise DomainError("tus_open_too_large",
                          "未完成的上传合计过大，请先完成或删除已开始的上传再开始新的",
                          status_code=413)


def expires_header(at: datetime) -> str:
    """Upload-Expires is an RFC 9110 HTTP date (always GMT)."""
    return format_datetime(at.astimezone(UTC), usegmt=True)

