from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from ltc.clock import ClockNow
from ltc.organisations.tables import Organisation
from ltc.regions.tables import Region


class User(Table, tablename="ltc_user"):
    """A person who signs in. Role values: see ltc.identity.Role."""

    username = Varchar(length=50, unique=True, null=False)
    display_name = Varchar(length=100, null=False)
    role = Varchar(length=20, null=False)
    region = ForeignKey(Region, on_delete=OnDelete.restrict, null=False)
    organisation = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=True)
    password_hash = Varchar(length=200, null=False)
    active = Boolean(default=True, null=False)
    # Qualifications are in the staff register (ltc.staff), whose record links to the account.
    created_at = Timestamptz(default=ClockNow(), null=False)
    version = Integer(default=1, null=False)


class ApiToken(Table):
    """A bearer token for an integration client: hashed, revocable, scoped to a role/region."""

    name = Varchar(length=100, null=False)
    token_hash = Varchar(length=64, unique=True, null=False)
    role = Varchar(length=20, null=False)
    region = ForeignKey(Region, on_delete=OnDelete.restrict, null=False)
    organisation = ForeignKey(Organisation, on_delete=OnDelete.restrict, null=True)
    # The per-client HMAC-SHA256 key for signed requests (enrolment events). Stored in
    # clear because verifying a signature needs it; shown to the admin once, at issue.
    signing_secret = Varchar(length=64, null=False, default="")
    # What it may call besides its role (ltc.identity.Scope), space-separated. The default
    # is what every token could call before scopes existed (LEGACY_SCOPES).
    scopes = Varchar(length=200, null=False, default="enrolment.events role.api")
    created_by = ForeignKey(User, on_delete=OnDelete.restrict, null=True)
    created_at = Timestamptz(default=ClockNow(), null=False)
    revoked_at = Timestamptz(default=None, null=True)
    last_used_at = Timestamptz(default=None, null=True)


class WebSession(Table):
    """Server-side sessions, shared by every app process (a memory store would log users out)."""

    key = Varchar(length=100, unique=True, null=False)
    data = Text(null=False)
    expires_at = Timestamptz(default=None, null=True, index=True)
    # Whose session (from the data), so all of a user's sessions can be ended at once.
    user_id = Integer(default=None, null=True, index=True)


class LoginAttempt(Table):
    """Every sign-in attempt; failures within the window rate-limit the username and the IP."""

    username = Varchar(length=50, null=False, index=True)
    ip = Varchar(length=45, null=False, index=True)
    succeeded = Boolean(null=False)
    at = Timestamptz(default=ClockNow(), null=False, index=True)
