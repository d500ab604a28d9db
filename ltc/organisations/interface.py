"""What other parts of LTC read of the organisation register (assessment organisations, care
providers and institutions), as typed values; no other context reads its table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from ltc.identity import Actor, in_region
from ltc.organisations.rules import Status, mask_account
from ltc.organisations.tables import Organisation, OrganisationStatusChange


@dataclass(frozen=True)
class OrganisationRef:
    id: int
    code: str
    name: str
    kind: str  # assessment | provider
    active: bool
    region_path: str
    status: str  # normal | suspended | exited (active: normal)
    service_towns: str  # town codes, comma-separated

    @property
    def towns(self) -> frozenset[str]:
        return frozenset(t for t in self.service_towns.split(",") if t)

    @property
    def status_label(self) -> str:
        return Status(self.status).label


_COLUMNS = (Organisation.id, Organisation.code, Organisation.name, Organisation.kind,
            Organisation.active, Organisation.region.path.as_alias("region_path"),
            Organisation.status, Organisation.service_towns)


@dataclass(frozen=True)
class PayeeAccount:
    """Where an organisation is paid: bank, account holder's name, account number."""

    bank_name: str
    account_name: str
    account_no: str

    @property
    def masked_no(self) -> str:
        """The number as pages other than the register's own show it: its last four digits."""
        return mask_account(self.account_no)


async def payee_account_of(organisation_id: int) -> PayeeAccount | None:
    """The organisation's bank account from the register; None when it has none on file."""
    row = await Organisation.select(
        Organisation.bank_name, Organisation.bank_account_name,
        Organisation.bank_account_no).where(Organisation.id == organisation_id).first()
    if not row or not row["bank_account_no"]:
        return None
    return PayeeAccount(bank_name=row["bank_name"], account_name=row["bank_account_name"],
                        account_no=row["bank_account_no"])


async def by_id(organisation_id: int) -> OrganisationRef | None:
    row = await Organisation.select(*_COLUMNS).where(Organisation.id == organisation_id).first()
    return OrganisationRef(**row) if row else None


async def inactive_since(organisation_id: int) -> date | None:
    """The day the organisation's current 暂停 or 退出 took effect; None while it is active
    (or was never changed from 正常)."""
    latest = await OrganisationStatusChange.select(
        OrganisationStatusChange.status, OrganisationStatusChange.effective_on).where(
        OrganisationStatusChange.organisation == organisation_id).order_by(
        OrganisationStatusChange.id, ascending=False).first()
    if latest is None or latest["status"] == Status.normal:
        return None
    return latest["effective_on"]


async def by_code(code: str) -> OrganisationRef | None:
    row = await Organisation.select(*_COLUMNS).where(Organisation.code == code).first()
    return OrganisationRef(**row) if row else None


async def name_of(organisation_id: int | None) -> str:
    """The organisation's name; "" for none or an unknown id."""
    if organisation_id is None:
        return ""
    row = await Organisation.select(Organisation.name).where(
        Organisation.id == organisation_id).first()
    return row["name"] if row else ""


async def active_of_kind(actor: Actor, kind: str, *, only_id: int | None = None,
                         order: Literal["code", "name"] = "code") -> list[OrganisationRef]:
    """The active organisations of `kind` in the actor's region (just `only_id`, if given)."""
    query = Organisation.select(*_COLUMNS).where(
        (Organisation.kind == kind) & Organisation.active.eq(True)
        & in_region(actor, Organisation.region.path))
    if only_id is not None:
        query = query.where(Organisation.id == only_id)
    rows = await query.order_by(Organisation.code if order == "code" else Organisation.name)
    return [OrganisationRef(**row) for row in rows]


async def legal_representative_id_of(organisation_id: int) -> str:
    """The resident ID of the organisation's legal representative ("" when not on file): the
    ban register (ltc.sanctions) asks it when the organisation signs an agreement."""
    row = await Organisation.select(Organisation.legal_representative_id).where(
        Organisation.id == organisation_id).first()
    return row["legal_representative_id"] if row else ""
