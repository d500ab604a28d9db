from piccolo.columns import BigInt, Integer, SmallInt, Text, Timestamptz, Varchar
from piccolo.table import Table


class AuditEvent(Table):
    """Append-only and hash-chained: each event stores the hash of the one before it.

    Database triggers (see the first migration) refuse UPDATE and DELETE on this table; on
    PostgreSQL the app's role may only INSERT and SELECT it (`ltc db grant-app-role`).
    `hash_scheme` says how `hash` was made (ltc.audit.rules: 1 unkeyed, 2 keyed).
    """

    seq = BigInt(unique=True, null=False)
    at = Timestamptz(null=False)
    actor_kind = Varchar(length=10, null=False)
    actor_id = Integer(null=True, default=None)
    actor_name = Varchar(length=100, null=False)
    actor_role = Varchar(length=20, null=True, default=None)
    action = Varchar(length=60, null=False, index=True)
    object_type = Varchar(length=40, null=False)
    object_id = Varchar(length=40, null=False)
    summary = Text(null=False)
    prev_hash = Varchar(length=64, null=False)
    hash = Varchar(length=64, unique=True, null=False)
    hash_scheme = SmallInt(null=False, default=1)
