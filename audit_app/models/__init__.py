from audit_app.models.evidence import Document, KillSwitchEvent, RunRecord, Submission
from audit_app.models.jobs import Job
from audit_app.models.organisation import Case, Team
from audit_app.models.write_once import EvidenceImmutableError

__all__ = ["Case", "Document", "EvidenceImmutableError", "Job", "KillSwitchEvent", "RunRecord", "Submission", "Team"]
