from piccolo.columns import (
    BigInt,
    DoublePrecision,
    ForeignKey,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from ltc.accounts.tables import User
from ltc.assessments.tables import Assessment
from ltc.clock import ClockNow


class EvidenceFile(Table):
    """A video or photo recorded at an assessment. The bytes live under the media directory
    by SHA-256, never overwritten; (assessment, sha256) is unique, so a re-sent upload is the
    same evidence, not a second copy."""

    assessment = ForeignKey(Assessment, on_delete=OnDelete.restrict, null=False)
    kind = Varchar(length=10, null=False)  # video | photo
    content_type = Varchar(length=40, null=False)
    size = BigInt(null=False)
    sha256 = Varchar(length=64, null=False, index=True)
    original_name = Varchar(length=200, null=False)
    recorded_at = Timestamptz(null=True, default=None)
    duration_seconds = DoublePrecision(null=True, default=None)
    uploaded_by = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    uploaded_at = Timestamptz(default=ClockNow(), null=False)


class ResumableUpload(Table):
    """An evidence upload in progress over tus 1.0 (ltc.evidence.resumable): its bytes so far
    are in `<media>/evidence/tmp/tus-<key>.part`. Made once its purpose was checked (the
    assessor's own editable assessment, the size and declared type allowed); kept until
    `expires_at` (moved on by every PATCH), then removed with its partial file.

    `patch_token` is the lock of the PATCH appending now ("" when none): set by a
    compare-and-set on `offset`, so two PATCHes of one upload never both append.
    `patch_seen_at` is its heartbeat; a lock whose holder died is taken over once stale."""

    key = Varchar(length=32, null=False, unique=True)
    owner = ForeignKey(User, on_delete=OnDelete.restrict, null=False)
    assessment = ForeignKey(Assessment, on_delete=OnDelete.restrict, null=False)
    length = BigInt(null=False)
    offset = BigInt(null=False, default=0)
    content_type = Varchar(length=40, null=False)
    original_name = Varchar(length=200, null=False)
    recorded_at = Timestamptz(null=True, default=None)
    patch_token = Varchar(length=32, null=False, default="")
    patch_seen_at = Timestamptz(null=True, default=None)
    evidence = ForeignKey(EvidenceFile, on_delete=OnDelete.cascade, null=True, default=None)
    created_at = Timestamptz(default=ClockNow(), null=False)
    expires_at = Timestamptz(null=False, index=True)
