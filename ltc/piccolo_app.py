"""The single Piccolo app: one migration history for every bounded context, so the schema is
applied from empty, in one order, on SQLite and PostgreSQL alike."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from ltc.accounts.tables import ApiToken, LoginAttempt, User, WebSession
from ltc.agreements.tables import Agreement
from ltc.applications.tables import Application
from ltc.assessments.tables import Assessment, Ruleset
from ltc.audit.tables import AuditEvent
from ltc.careplans.tables import CareItem, CarePlan, CarePlanLetter
from ltc.dashboard.tables import Budget, DashboardFigure, DashboardRefresh, MonthlyReport
from ltc.decision_events.tables import (
    DecisionEvent,
    EventDelivery,
    EventDeliveryAttempt,
    EventStream,
    EventSubscriber,
)
from ltc.enrollment.tables import (
    EnrollmentAnswer,
    EnrollmentEvent,
    EnrollmentRecord,
    HospitalStay,
)
from ltc.entitlements.tables import Decision, Entitlement, EntitlementChange, Suspension
from ltc.evidence.tables import EvidenceFile, ResumableUpload
from ltc.family.tables import FamilyAnswer, FamilyRating, FamilySignIn
from ltc.inspections.tables import InspectionFinding
from ltc.jobs.tables import JobReceipt, OutboxMessage, ScheduledRun
from ltc.notices.tables import NoticeBatch, NoticeEntry, Objection
from ltc.organisations.tables import Organisation, OrganisationStatusChange
from ltc.payouts.tables import (
    DepositEntry,
    Payment,
    PayoutBatch,
    PayoutBatchAnomaly,
    PayoutBatchFigures,
    PayoutBatchProvider,
    PayoutBatchTotal,
    PayoutDeclaration,
    PayoutDispute,
    PayoutDocument,
    PayoutEnrolmentMark,
    PayoutLine,
    SandboxGrade,
    SandboxLine,
    SandboxPerson,
    SandboxRun,
)
from ltc.people.tables import Person
from ltc.policy.tables import PolicyVersion
from ltc.regions.tables import Region
from ltc.returnvisits.tables import ReturnVisit, ReturnVisitDraw
from ltc.sanctions.tables import Ban, HandoverItem, ProviderExit, Sanction
from ltc.spotchecks.tables import SpotCheck, SpotCheckDraw
from ltc.staff.tables import StaffMember, StaffTraining
from ltc.visits.tables import InstitutionalStay, PinAttempt, Survey, Visit

APP_CONFIG = AppConfig(
    app_name="ltc",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[
        Region,
        Organisation,
        OrganisationStatusChange,
        User,
        ApiToken,
        WebSession,
        LoginAttempt,
        AuditEvent,
        OutboxMessage,
        JobReceipt,
        ScheduledRun,
        Person,
        EnrollmentRecord,
        Application,
        Ruleset,
        Assessment,
        EvidenceFile,
        ResumableUpload,
        PolicyVersion,
        NoticeBatch,
        NoticeEntry,
        Objection,
        Decision,
        Entitlement,
        Suspension,
        EntitlementChange,
        EnrollmentEvent,
        HospitalStay,
        Agreement,
        CareItem,
        CarePlan,
        CarePlanLetter,
        Visit,
        PinAttempt,
        InstitutionalStay,
        Survey,
        PayoutBatch,
        Payment,
        PayoutLine,
        DepositEntry,
        PayoutDocument,
        PayoutDeclaration,
        PayoutDispute,
        SandboxRun,
        SandboxLine,
        SandboxGrade,
        SandboxPerson,
        SpotCheckDraw,
        SpotCheck,
        StaffMember,
        StaffTraining,
        ReturnVisitDraw,
        ReturnVisit,
        FamilySignIn,
        FamilyAnswer,
        FamilyRating,
        InspectionFinding,
        Sanction,
        Ban,
        ProviderExit,
        HandoverItem,
        EventSubscriber,
        EventStream,
        DecisionEvent,
        EventDelivery,
        EventDeliveryAttempt,
        EnrollmentAnswer,
        PayoutEnrolmentMark,
        PayoutBatchFigures,
        PayoutBatchTotal,
        PayoutBatchAnomaly,
        PayoutBatchProvider,
        DashboardFigure,
        DashboardRefresh,
        Budget,
        MonthlyReport,
    ],
)
