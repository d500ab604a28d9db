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
