from audit_app.models.api import ApiKey, ApiKeyEvent, IdempotentRequest
from audit_app.models.evidence import AccessEvent, Document, KillSwitchEvent, RunRecord, Submission
from audit_app.models.jobs import Job
from audit_app.models.ledger import (
    Checkpoint,
    LedgerAlert,
    LedgerEntry,
    LedgerHead,
    LedgerNode,
    LedgerVerification,
)
from audit_app.models.organisation import Case, Team
from audit_app.models.report_certificates import ReportCertificate
from audit_app.models.reports import Report, ReportExport
from audit_app.models.review import AccountEvent, ReviewerAssignment, ReviewerConclusion, SigningFailure, SignOff
from audit_app.models.verification import VerificationRun
from audit_app.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from audit_app.models.workers import WorkerStatus
from audit_app.models.write_once import EvidenceImmutableError, EvidenceWriteError

__all__ = [
    "AccessEvent",
    "AccountEvent",
    "ApiKey",
    "ApiKeyEvent",
    "Case",
    "Checkpoint",
    "Document",
    "EvidenceImmutableError",
    "EvidenceWriteError",
    "IdempotentRequest",
    "Job",
    "KillSwitchEvent",
    "LedgerAlert",
    "LedgerEntry",
    "LedgerHead",
    "LedgerNode",
    "LedgerVerification",
    "Report",
    "ReportCertificate",
    "ReportExport",
    "ReviewerAssignment",
    "ReviewerConclusion",
    "RunRecord",
    "SignOff",
    "SigningFailure",
    "Submission",
    "Team",
    "VerificationRun",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkerStatus",
]
