"""A month's payout lines as set-based SQL (issue 6: INSERT … SELECT, no Python loop per
beneficiary), the same statements on SQLite and PostgreSQL but for a few spellings
(`Dialect`). The rules are those of ltc.payouts.rules; tests hold the two to the same rows.

How a month is computed, in common table expressions:

- `ent`: the region's entitlements in force on some day of the month, each clipped to the
  month: [a, b] = [max(start, 1st), min(expiry, end, last day)];
- `held`: (entitlement, day) for every day of the month a clerk's suspension or a hospital
  stay (admission through the day before discharge) suspends it — only entitlements with
  such an interval produce rows, so the common case costs nothing; `away` adds, for the
  family subsidy only, the days the beneficiary spends in a care institution (paid to the
  institution, not to the family: SPEC — subsidy *or* institutional care);
- a benefit's days are the length of an interval (entitlement ∩ agreement ∩ stay) minus
  its `held` days: interval arithmetic instead of one row per beneficiary and day;
- visits are classified one by one (review, active day, provider agreement) and ranked by
  start time per beneficiary; ranks beyond the grade's quota are `over_quota`.

Every value inlined into the SQL is an int, a date, a region path checked to be digits and
slashes or a batch number checked to be capitals and digits: nothing a user typed reaches
the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ltc import clock
from ltc.payouts import rules
from ltc.policy.rules import Policy

_REGION = re.compile(r"[0-9]+(/[0-9]+)*")
_FINAL_SQL = ", ".join(f"'{state}'" for state in rules.FINAL)
CARRIED = "('failed', 'offset', 'unpayable')"  # payment statuses paid again next batch
_ACCEPTED_SQL = ", ".join(f"'{review}'" for review in rules.ACCEPTED_REVIEWS)


@dataclass(frozen=True)
class Dialect:
    sqlite: bool

    def day(self, value: date) -> str:
        return f"'{value.isoformat()}'" if self.sqlite else f"DATE '{value.isoformat()}'"

    def span(self, first: str, last: str) -> str:
        """Days from `first` through `last`, both counted."""
        if self.sqlite:
            return f"(CAST(julianday({last}) - julianday({first}) AS INTEGER) + 1)"
        return f"({last} - {first} + 1)"

    def shift(self, value: str, days: int) -> str:
        return f"date({value}, '{days:+d} day')" if self.sqlite else f"({value} + {days})"

    def greatest(self, *values: str) -> str:
        return f"{'max' if self.sqlite else 'GREATEST'}({', '.join(values)})"

    def least(self, *values: str) -> str:
        return f"{'min' if self.sqlite else 'LEAST'}({', '.join(values)})"

    def moment(self, value: datetime) -> str:
        """A timestamp literal comparable with stored Timestamptz values: SQLite stores
        them as UTC text the way Piccolo's adapter writes them."""
        utc = value.astimezone(UTC)
        return f"'{utc}'" if self.sqlite else f"TIMESTAMPTZ '{utc.isoformat()}'"

    def false(self) -> str:
        return "0" if self.sqlite else "false"

    def true(self) -> str:
        return "1" if self.sqlite else "true"

    def list_of(self, expression: str) -> str:
        """Comma-separated values of `expression` over a group (any order)."""
        if self.sqlite:
            return f"group_concat({expression}, ',')"
        return f"string_agg({expression}, ',')"

    def grade_rate(self, rates_json: str, grade: str) -> str:
        """The agreement's own bed-day rate for `grade` from its JSON object, or NULL."""
        if self.sqlite:
            return f"json_extract({rates_json}, '$.\"' || {grade} || '\"')"
        return f"CAST(CAST({rates_json} AS jsonb) ->> CAST({grade} AS TEXT) AS BIGINT)"

    def pad6(self, number: str) -> str:
        """At least six digits, never cut: 7 → 000007, 1234567 → 1234567."""
        if self.sqlite:
            return (f"(CASE WHEN {number} > 999999 THEN CAST({number} AS TEXT) "
                    f"ELSE substr('000000' || {number}, -6, 6) END)")
        return f"lpad(CAST({number} AS TEXT), GREATEST(6, length(CAST({number} AS TEXT))), '0')"


def _batch_number(number: str) -> str:
    """A batch number fit to inline (JS370983202612)."""
    if not re.fullmatch(r"[A-Z0-9]+", number):
        raise ValueError(f"not a batch number: {number!r}")
    return number


def region_filter(column: str, region_path: str) -> str:
    if not _REGION.fullmatch(region_path):
        raise ValueError(f"not a region path: {region_path!r}")
    return f"({column} = '{region_path}' OR {column} LIKE '{region_path}/%')"


def _by_grade(grade: str, values: dict[int, int]) -> str:
    cases = " ".join(f"WHEN {int(g)} THEN {int(v)}" for g, v in sorted(values.items()))
    return f"(CASE {grade} {cases} ELSE 0 END)"


def _one_rate(rate: str) -> str:
    """A line's rate when one rate priced all of it, else 0: agreements renewed within the
    month at another rate (the money is exact either way; rules.explain says which)."""
    return f"(CASE WHEN MIN({rate}) < MAX({rate}) THEN 0 ELSE MAX({rate}) END)"


def _agreement_last(d: Dialect, ag: str) -> str:
    """The last day an agreement covers (ltc.agreements.rules.coverage): its end, or the day
    before a suspension or termination stopped it."""
    return (f"(CASE WHEN {ag}.state <> 'ACTIVE' AND {ag}.state_changed_on IS NOT NULL "
            f"THEN {d.least(f'{ag}.ends_on', d.shift(f'{ag}.state_changed_on', -1))} "
            f"ELSE {ag}.ends_on END)")


@dataclass(frozen=True)
class Month:
    """What one month's statements need: the month, the region, the policy in force on its
    first day, and optionally the persons to compute (a subquery), for adjustments."""

    first: date
    region_path: str
    policy: Policy
    persons: str | None = None
    # The policy sandbox only: a subquery of (person, grade) graded otherwise than their
    # entitlement (another ruleset), and entitlements kept only if of the policy's
    # eligible grades (a draft may name others than the version that granted them).
    grades: str | None = None
    eligible_only: bool = False

    @property
    def last(self) -> date:
        return clock.month_last(self.first)

    @property
    def length(self) -> int:
        return self.last.day


def ctes(d: Dialect, m: Month) -> str:
    """The common table expressions, ending with `lines` (one row per payee, beneficiary and
    benefit) and `vq` (one row per visit with its reason). Starts with WITH RECURSIVE."""
    m1, ml = d.day(m.first), d.day(m.last)
    p = m.policy
    only = f"AND e.person IN ({m.persons})" if m.persons else ""
    grade = (f"COALESCE((SELECT g.grade FROM ({m.grades}) g WHERE g.person = e.person), e.grade)"
             if m.grades else "e.grade")
    if m.eligible_only:
        only += f" AND {grade} IN ({', '.join(str(int(g)) for g in p.eligible_grades)})"
    only_visits = f"AND v.person IN ({m.persons})" if m.persons else ""
    return f"""
WITH RECURSIVE days(d) AS (
  SELECT {m1} UNION ALL SELECT {d.shift('d', 1)} FROM days WHERE d < {ml}
),
ent AS (
  SELECT e.id, e.person, {grade} AS grade, e.region_path,
         {d.greatest('e.starts_on', m1)} AS a,
         {d.least('e.expires_on', 'COALESCE(e.ends_on, e.expires_on)', ml)} AS b
  FROM entitlement e
  WHERE {region_filter('e.region_path', m.region_path)}
    AND e.starts_on <= {ml} AND e.expires_on >= {m1}
    AND (e.ends_on IS NULL OR e.ends_on >= {m1}) {only}
),
pauses AS (
  SELECT s.entitlement AS entitlement, s.starts_on AS s, s.resumes_on AS r
  FROM suspension s JOIN ent ON ent.id = s.entitlement
  UNION ALL
  SELECT ent.id, h.admitted_on, h.discharged_on
  FROM hospital_stay h JOIN ent ON ent.person = h.person
  WHERE h.admitted_on IS NOT NULL
),
held AS (
  SELECT DISTINCT pauses.entitlement, days.d
  FROM pauses JOIN ent ON ent.id = pauses.entitlement
  JOIN days ON days.d >= pauses.s AND (pauses.r IS NULL OR days.d < pauses.r)
   AND days.d >= ent.a AND days.d <= ent.b
),
cg AS (
  SELECT ent.id AS entitlement, ent.person, ent.grade, ent.region_path, ag.id AS agreement,
         'cg:' || ag.caregiver_resident_id AS payee_key, ag.caregiver_name AS payee_name,
         COALESCE(ag.family_subsidy_fen, {int(p.family_subsidy_fen)}) AS rate,
         {d.greatest('ent.a', 'ag.starts_on')} AS a,
         {d.least('ent.b', _agreement_last(d, 'ag'))} AS b
  FROM ent JOIN agreement ag ON ag.kind = 'caregiver' AND ag.beneficiary = ent.person
   AND ag.state <> 'DRAFT' AND {region_filter('ag.region_path', m.region_path)}
),
away AS (
  SELECT entitlement, d FROM held
  UNION
  SELECT cg.entitlement, days.d
  FROM cg JOIN institutional_stay st ON st.person = cg.person
  JOIN days ON days.d >= st.admitted_on AND (st.discharged_on IS NULL OR days.d < st.discharged_on)
   AND days.d >= cg.a AND days.d <= cg.b
),
cg_days AS (
  SELECT cg.entitlement, cg.person, cg.grade, cg.region_path, cg.agreement, cg.payee_key,
         cg.payee_name, cg.rate, {d.span('cg.a', 'cg.b')} - COUNT(away.d) AS days
  FROM cg LEFT JOIN away ON away.entitlement = cg.entitlement
   AND away.d >= cg.a AND away.d <= cg.b
  WHERE cg.a <= cg.b
  GROUP BY cg.entitlement, cg.person, cg.grade, cg.region_path, cg.agreement, cg.payee_key,
           cg.payee_name, cg.rate, cg.a, cg.b
),
pa AS (
  SELECT ag.id, ag.organisation, ag.starts_on AS a, {_agreement_last(d, 'ag')} AS b,
         COALESCE(ag.visit_rate_fen, {int(p.visit_rate_fen)}) AS rate, ag.bed_day_rates,
         ag.home_visits, ag.institutional_beds
  FROM agreement ag
  WHERE ag.kind = 'provider' AND ag.state <> 'DRAFT'
    AND ag.starts_on <= {ml} AND ag.ends_on >= {m1}
    AND {region_filter('ag.region_path', m.region_path)}
),
vv AS (
  SELECT v.id AS visit, v.person, v.provider, v.started_at, v.region_path,
         ent.id AS entitlement, ent.grade, pa.id AS agreement, pa.rate,
         CASE WHEN v.review NOT IN ({_ACCEPTED_SQL})
                THEN (CASE WHEN v.review = 'rejected' THEN 'rejected' ELSE 'flagged' END)
              WHEN ent.id IS NULL OR held.d IS NOT NULL THEN 'inactive_day'
              WHEN pa.id IS NULL THEN 'no_provider_agreement'
              ELSE '' END AS reason
  FROM visit v
  LEFT JOIN ent ON ent.person = v.person AND v.visit_on >= ent.a AND v.visit_on <= ent.b
  LEFT JOIN held ON held.entitlement = ent.id AND held.d = v.visit_on
  LEFT JOIN pa ON pa.organisation = v.provider AND v.visit_on >= pa.a AND v.visit_on <= pa.b
   AND pa.home_visits = {d.true()}
  WHERE v.visit_on >= {m1} AND v.visit_on <= {ml} AND v.superseded = {d.false()}
    AND ({region_filter('v.region_path', m.region_path)}
         OR v.person IN (SELECT person FROM ent)) {only_visits}
),
vq AS (
  SELECT visit, person, provider, entitlement, grade, region_path, agreement, rate,
         CASE WHEN reason = '' AND ROW_NUMBER() OVER (
                PARTITION BY person, reason ORDER BY started_at, visit)
                > {_by_grade('grade', p.visits_per_month)}
              THEN 'over_quota' ELSE reason END AS reason
  FROM vv
),
inst AS (
  SELECT st.institution, ent.id AS entitlement, ent.person, ent.grade, ent.region_path,
         pa.id AS agreement,
         COALESCE({d.grade_rate('pa.bed_day_rates', 'ent.grade')},
                  {_by_grade('ent.grade', p.bed_day_rate_fen)}) AS rate,
         {d.greatest('ent.a', 'st.admitted_on', 'pa.a')} AS a,
         {d.least('ent.b', f"COALESCE({d.shift('st.discharged_on', -1)}, {ml})", 'pa.b')} AS b
  FROM institutional_stay st
  JOIN ent ON ent.person = st.person
  JOIN pa ON pa.organisation = st.institution AND pa.institutional_beds > 0
  WHERE st.admitted_on <= {ml} AND (st.discharged_on IS NULL OR st.discharged_on > {m1})
),
inst_days AS (
  SELECT inst.institution, inst.entitlement, inst.person, inst.grade, inst.region_path,
         inst.agreement, inst.rate, {d.span('inst.a', 'inst.b')} - COUNT(held.d) AS days
  FROM inst LEFT JOIN held ON held.entitlement = inst.entitlement
   AND held.d >= inst.a AND held.d <= inst.b
  WHERE inst.a <= inst.b
  GROUP BY inst.institution, inst.entitlement, inst.person, inst.grade, inst.region_path,
           inst.agreement, inst.rate, inst.a, inst.b
),
lines AS (
  SELECT 'family_subsidy' AS benefit, payee_key, MAX(payee_name) AS payee_name,
         CAST(NULL AS INTEGER) AS organisation, MAX(agreement) AS agreement, person,
         MAX(entitlement) AS entitlement, MAX(region_path) AS region_path,
         MAX(grade) AS grade, SUM(days) AS days, 0 AS visits_counted, 0 AS visits_excluded,
         {_one_rate('rate')} AS rate_fen,
         (CAST(SUM(rate * days) AS BIGINT) * 2 + {m.length}) / {2 * m.length} AS gross_fen,
         '' AS visit_treatments
  FROM cg_days GROUP BY payee_key, person HAVING SUM(days) > 0
  UNION ALL
  SELECT 'home_visit', 'org:' || provider, '', provider, MAX(agreement), person,
         MAX(entitlement), MAX(region_path), COALESCE(MAX(grade), 0), 0,
         SUM(CASE WHEN reason = '' THEN 1 ELSE 0 END),
         SUM(CASE WHEN reason = '' THEN 0 ELSE 1 END),
         COALESCE({_one_rate("CASE WHEN reason = '' THEN rate END")}, MAX(rate),
                  {int(p.visit_rate_fen)}),
         CAST(COALESCE(SUM(CASE WHEN reason = '' THEN rate ELSE 0 END), 0) AS BIGINT),
         {d.list_of("CAST(visit AS TEXT) || ':' || reason")}
  FROM vq GROUP BY provider, person
  UNION ALL
  SELECT 'institutional', 'org:' || institution, '', institution, MAX(agreement), person,
         MAX(entitlement), MAX(region_path), MAX(grade), SUM(days), 0, 0, {_one_rate('rate')},
         CAST(SUM(rate * days) AS BIGINT), ''
  FROM inst_days GROUP BY institution, person HAVING SUM(days) > 0
)"""


def _withheld(p: Policy, gross: str, benefit: str) -> str:
    return (f"(CASE WHEN {benefit} = 'family_subsidy' THEN 0 ELSE "
            f"({gross} * {int(p.deposit_basis_points)} * 2 + 10000) / 20000 END)")


LINE_COLUMNS = (
    "batch, kind, benefit, service_month, payee_key, payee_name, organisation, agreement, "
    "person, entitlement, region_path, grade, days, days_in_month, visits_counted, "
    "visits_excluded, visit_treatments, rate_fen, gross_fen, withheld_fen, net_fen, "
    "previous_gross_fen, "
    "previous_days, previous_visits, adjusts, carried_payment, policy_version")


def regular_lines(d: Dialect, m: Month, batch_id: int, policy_version: int,
                  into: str = "payout_line") -> str:
    """The month's regular lines, into payout_line or (the policy sandbox) sandbox_line."""
    if into not in ("payout_line", "sandbox_line"):
        raise ValueError(f"not a line table: {into!r}")
    withheld = _withheld(m.policy, "l.gross_fen", "l.benefit")
    return f"""{ctes(d, m)}
INSERT INTO {into} ({LINE_COLUMNS})
SELECT {int(batch_id)}, 'regular', l.benefit, {d.day(m.first)}, l.payee_key,
       COALESCE(o.name, l.payee_name), l.organisation, l.agreement, l.person, l.entitlement,
       COALESCE(l.region_path, ''), COALESCE(l.grade, 0), l.days, {m.length},
       l.visits_counted, l.visits_excluded, l.visit_treatments, l.rate_fen, l.gross_fen,
       {withheld},
       l.gross_fen - {withheld}, 0, 0, 0, NULL, NULL, {int(policy_version)}
FROM lines l LEFT JOIN organisation o ON o.id = l.organisation"""


def touched_persons(d: Dialect, m: Month, since: str) -> str:
    """Persons whose payout facts for month `m` may have changed after `since` (an SQL
    timestamp literal): entitlement history (death, end, hospital stays, suspensions,
    resumptions), suspensions, visits logged or reviewed since, and — from the audit trail —
    enrolment events (also those of an entitlement already ended), visit revisions and
    reviews, stays, and caregiver or provider agreements changed since; and, whenever it
    was, a line of the month a clerk held out of a final batch by upholding a provider's
    dispute (ltc.payouts.declarations: 本期不予结算), so what is owed for it is settled in
    the next batch under the facts then, never left to chance. Adjustments recompute only
    these persons' month; a person touched needlessly costs a little time, never money (an
    adjustment is what is owed minus what was paid)."""
    m1, ml = d.day(m.first), d.day(m.last)

    def audited(object_type: str, table: str, alias: str, join: str = "") -> str:
        return (f"FROM audit_event a JOIN {table} {alias} "
                f"ON a.object_id = CAST({alias}.id AS TEXT) {join} "
                f"WHERE a.object_type = '{object_type}' AND a.at > {since}")

    visits = (f"JOIN visit v ON v.provider = ag.organisation "
              f"AND v.visit_on >= {m1} AND v.visit_on <= {ml}")
    stays = ("JOIN institutional_stay st ON st.institution = ag.organisation "
             f"AND st.admitted_on <= {ml}")

    return f"""
SELECT e.person FROM entitlement_change c JOIN entitlement e ON e.id = c.entitlement
WHERE c.at > {since}
UNION SELECT e.person FROM suspension s JOIN entitlement e ON e.id = s.entitlement
WHERE s.created_at > {since}
UNION SELECT v.person FROM visit v WHERE v.visit_on >= {m1} AND v.visit_on <= {ml}
  AND (v.created_at > {since} OR v.reviewed_at > {since})
UNION SELECT p.id {audited('person', 'person', 'p')}
UNION SELECT v.person {audited('visit', 'visit', 'v')}
UNION SELECT st.person {audited('institutional_stay', 'institutional_stay', 'st')}
UNION SELECT ag.beneficiary {audited('agreement', 'agreement', 'ag')} AND ag.kind = 'caregiver'
UNION SELECT v.person {audited('agreement', 'agreement', 'ag', visits)}
  AND ag.kind = 'provider'
UNION SELECT st.person {audited('agreement', 'agreement', 'ag', stays)}
  AND ag.kind = 'provider'
UNION SELECT pd.person FROM payout_dispute pd JOIN payout_batch pb ON pb.id = pd.batch
WHERE pd.state = 'upheld' AND pd.outcome = 'exclude' AND pd.service_month = {m1}
  AND pb.state IN ({_FINAL_SQL})"""


def adjustment_lines(d: Dialect, m: Month, batch_id: int, policy_version: int) -> str:
    """Lines that make what was paid for month `m` (its final batches' regular and
    adjustment lines) equal to what is owed under today's facts, for `m.persons`."""
    withheld = _withheld(m.policy, "l.gross_fen", "l.benefit")
    m1 = d.day(m.first)
    return f"""{ctes(d, m)},
paid AS (
  SELECT l.payee_key, l.person, l.benefit, SUM(l.gross_fen) AS gross_fen,
         SUM(l.withheld_fen) AS withheld_fen, MAX(l.id) AS last_id,
         MIN(CASE WHEN l.kind = 'regular' THEN l.id END) AS regular_id
  FROM payout_line l JOIN payout_batch b ON b.id = l.batch
  WHERE {region_filter('b.region_path', m.region_path)} AND b.state IN ({_FINAL_SQL})
    AND l.service_month = {m1} AND l.kind IN ('regular', 'adjustment')
    AND l.person IN ({m.persons})
  GROUP BY l.payee_key, l.person, l.benefit
),
owed AS (
  SELECT l.benefit, l.payee_key, COALESCE(o.name, l.payee_name) AS payee_name,
         l.organisation, l.agreement, l.person, l.entitlement, l.region_path, l.grade,
         l.days, l.visits_counted, l.visits_excluded, l.visit_treatments, l.rate_fen,
         l.gross_fen, {withheld} AS withheld_fen
  FROM lines l LEFT JOIN organisation o ON o.id = l.organisation
),
both_sides AS (
  SELECT benefit, payee_key, payee_name, organisation, agreement, person, entitlement,
         region_path, grade, days, visits_counted, visits_excluded, visit_treatments,
         rate_fen, gross_fen, withheld_fen, 0 AS paid_gross, 0 AS paid_withheld,
         CAST(NULL AS INTEGER) AS last_id, CAST(NULL AS INTEGER) AS regular_id
  FROM owed
  UNION ALL
  SELECT p.benefit, p.payee_key, last.payee_name, last.organisation, last.agreement,
         p.person, last.entitlement, last.region_path, last.grade, 0, 0, 0, '',
         last.rate_fen, 0, 0, p.gross_fen, p.withheld_fen, p.last_id, p.regular_id
  FROM paid p JOIN payout_line last ON last.id = p.last_id
)
INSERT INTO payout_line ({LINE_COLUMNS})
SELECT {int(batch_id)}, 'adjustment', x.benefit, {m1}, x.payee_key, MAX(x.payee_name),
       MAX(x.organisation), MAX(x.agreement), x.person, MAX(x.entitlement),
       COALESCE(MAX(x.region_path), ''), COALESCE(MAX(x.grade), 0), SUM(x.days), {m.length},
       SUM(x.visits_counted), SUM(x.visits_excluded), MAX(x.visit_treatments),
       MAX(x.rate_fen), SUM(x.gross_fen) - SUM(x.paid_gross),
       SUM(x.withheld_fen) - SUM(x.paid_withheld),
       SUM(x.gross_fen) - SUM(x.withheld_fen) - SUM(x.paid_gross) + SUM(x.paid_withheld),
       SUM(x.paid_gross), COALESCE(MAX(last.days), 0), COALESCE(MAX(last.visits_counted), 0),
       MAX(x.regular_id), NULL, {int(policy_version)}
FROM both_sides x LEFT JOIN payout_line last ON last.id = x.last_id
GROUP BY x.payee_key, x.person, x.benefit
HAVING SUM(x.gross_fen) <> SUM(x.paid_gross) OR SUM(x.withheld_fen) <> SUM(x.paid_withheld)"""


def carried_lines(batch_id: int) -> str:
    """Lines of the payments carried into this batch (failed, offset or unpayable): their
    net paid again, nothing withheld twice."""
    return f"""
INSERT INTO payout_line ({LINE_COLUMNS})
SELECT {int(batch_id)}, 'carry_forward', l.benefit, l.service_month, l.payee_key,
       MAX(l.payee_name), MAX(l.organisation), MAX(l.agreement), l.person,
       MAX(l.entitlement), MAX(l.region_path), MAX(l.grade), 0, MAX(l.days_in_month), 0, 0,
       '', 0, SUM(l.net_fen), 0, SUM(l.net_fen), 0, 0, 0, NULL, MAX(p.id), MAX(l.policy_version)
FROM payout_line l JOIN payment p ON p.batch = l.batch AND p.payee_key = l.payee_key
WHERE p.carried_into = {int(batch_id)}
GROUP BY l.payee_key, l.person, l.benefit, l.service_month"""


def payee_accounts(d: Dialect, batch_id: int, region_path: str, on: date) -> str:
    """Each payee of a batch whose lines do not cancel out: total, position in payee order
    and the account paid into — that of the payee's newest agreement version (provider
    agreements for `org:`, caregiver agreements for `cg:` payees) begun by day `on` (the
    export), or else its earliest one: an amendment that adds or changes an account pays
    every amount still owed, those carried from earlier months too. Only a version that
    covers a day (ltc.agreements.rules.coverage) names an account: a draft voided (作废) or
    a version terminated or amended from its first day never agreed one. Account "" =
    none."""
    payee = ("CASE WHEN ag.kind = 'caregiver' THEN 'cg:' || ag.caregiver_resident_id "
             "ELSE 'org:' || CAST(ag.organisation AS TEXT) END")
    return f"""
WITH t AS (
  SELECT payee_key, MAX(payee_name) AS payee_name, SUM(net_fen) AS net,
         ROW_NUMBER() OVER (ORDER BY payee_key) AS seq
  FROM payout_line WHERE batch = {int(batch_id)}
  GROUP BY payee_key HAVING SUM(net_fen) <> 0
),
acct AS (
  SELECT {payee} AS payee_key, ag.bank_name, ag.bank_account_name, ag.bank_account,
         ROW_NUMBER() OVER (PARTITION BY {payee} ORDER BY
           CASE WHEN ag.starts_on <= {d.day(on)} THEN 0 ELSE 1 END,
           CASE WHEN ag.starts_on <= {d.day(on)} THEN ag.starts_on END DESC,
           ag.starts_on, ag.id DESC) AS n
  FROM agreement ag
  WHERE ag.kind IN ('caregiver', 'provider') AND ag.state <> 'DRAFT'
    AND ag.starts_on <= {_agreement_last(d, 'ag')}
    AND {region_filter('ag.region_path', region_path)}
)
SELECT t.payee_key, t.payee_name, t.net, t.seq, COALESCE(a.bank_name, '') AS bank_name,
       COALESCE(a.bank_account_name, '') AS bank_account_name,
       COALESCE(a.bank_account, '') AS bank_account
FROM t LEFT JOIN acct a ON a.payee_key = t.payee_key AND a.n = 1"""


def payments(d: Dialect, batch_id: int, batch_number: str, region_path: str, on: date) -> str:
    """One payment per payee of an exported batch, numbered in payee order. A negative
    total is `offset` and a payee without a bank account `unpayable`: neither goes to the
    bank, both are carried into the next batch."""
    return f"""
INSERT INTO payment (batch, reference, payee_key, payee_name, bank_name, bank_account_name,
                     bank_account, amount_fen, status, failure_reason)
SELECT {int(batch_id)}, '{_batch_number(batch_number)}-' || {d.pad6('p.seq')}, p.payee_key,
       p.payee_name, p.bank_name, p.bank_account_name, p.bank_account, p.net,
       CASE WHEN p.net < 0 THEN 'offset'
            WHEN p.bank_account = '' THEN 'unpayable' ELSE 'pending' END,
       CASE WHEN p.net > 0 AND p.bank_account = '' THEN '{rules.NO_ACCOUNT}' ELSE '' END
FROM ({payee_accounts(d, batch_id, region_path, on)}) p"""


def carry_failed_payments(batch_id: int, region_path: str) -> tuple[str, ...]:
    """Mark the region's failed or offset payments not yet carried as carried into this
    draft (again, on a recomputation), then insert their lines."""
    batch = int(batch_id)
    return (
        f"UPDATE payment SET carried_into = NULL WHERE carried_into = {batch}",
        f"UPDATE payment SET carried_into = {batch} WHERE status IN {CARRIED} "
        "AND carried_into IS NULL AND batch IN (SELECT id FROM payout_batch "
        f"WHERE {region_filter('region_path', region_path)})",
        carried_lines(batch),
    )


def payee_totals(batch_id: int) -> str:
    """Each payee of a batch with its lines counted and summed (the payout.approved events)."""
    return (
        "SELECT payee_key, MAX(payee_name) AS payee_name, COUNT(*) AS line_count, "
        "SUM(gross_fen) AS gross, SUM(withheld_fen) AS withheld, SUM(net_fen) AS net "
        f"FROM payout_line WHERE batch = {int(batch_id)} GROUP BY payee_key ORDER BY payee_key")


def withheld_deposits(d: Dialect, batch_id: int, batch_number: str, at: datetime) -> str:
    """The deposit ledger entries of an approved batch: its withheld amounts per provider."""
    return (
        "INSERT INTO deposit_entry (organisation, kind, amount_fen, batch, reason, "
        f"recorded_by, at) SELECT organisation, 'withheld', SUM(withheld_fen), {int(batch_id)}, "
        f"'{_batch_number(batch_number)}', NULL, {d.moment(at)} FROM payout_line "
        f"WHERE batch = {int(batch_id)} AND organisation IS NOT NULL "
        "GROUP BY organisation HAVING SUM(withheld_fen) <> 0")
