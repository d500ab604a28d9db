"""The Dramatiq entry point: `dramatiq workers` (or `ltc worker`).

The broker is installed from the settings before any actor module is imported, because
Dramatiq binds each actor to the broker that is global at import time.
"""

import dramatiq
from dramatiq.middleware import Middleware

from ltc.enrollment.remote import install_from_settings as install_enrolment_gateway
from ltc.jobs.setup import install
from ltc.settings import Settings


class PdfWarmUp(Middleware):
    """WeasyPrint's first render in a process costs ~0.5 s more than the next (imports, font
    cache): pay it when the worker boots, not inside the first notice or letter job."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from ltc import pdf

        pdf.warm_up()


settings = Settings.from_env()
broker = install(settings)
install_enrolment_gateway(settings)  # the HTTP adapter when LTC_ENROLMENT_URL is set
broker.add_middleware(PdfWarmUp())  # only processes that run jobs (not the scheduler) boot it

from ltc import housekeeping  # noqa: E402
from ltc.agreements import jobs as agreement_jobs  # noqa: E402
from ltc.applications import jobs as application_jobs  # noqa: E402, F401
from ltc.audit import jobs as audit_jobs  # noqa: E402
from ltc.careplans import jobs as careplan_jobs  # noqa: E402, F401
from ltc.dashboard import jobs as dashboard_jobs  # noqa: E402
from ltc.entitlements import jobs as entitlement_jobs  # noqa: E402
from ltc.evidence import jobs as evidence_jobs  # noqa: E402
from ltc.inspections import jobs as inspection_jobs  # noqa: E402
from ltc.notices import jobs as notice_jobs  # noqa: E402
from ltc.payouts import jobs as payout_jobs  # noqa: E402
from ltc.returnvisits import jobs as returnvisit_jobs  # noqa: E402
from ltc.sanctions import jobs as sanction_jobs  # noqa: E402
from ltc.spotchecks import jobs as spotcheck_jobs  # noqa: E402

SCHEDULES = [audit_jobs.SCHEDULE, housekeeping.SCHEDULE, notice_jobs.SCHEDULE,
             entitlement_jobs.SCHEDULE, agreement_jobs.SCHEDULE, payout_jobs.SCHEDULE,
             spotcheck_jobs.SCHEDULE, returnvisit_jobs.SCHEDULE,
             inspection_jobs.SCHEDULE, sanction_jobs.SCHEDULE, evidence_jobs.SCHEDULE,
             dashboard_jobs.SCHEDULE, dashboard_jobs.REPORT_SCHEDULE]
