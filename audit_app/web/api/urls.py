from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from audit_app.web.api import jobs, ledger, problems, reports

PUBLIC = [AllowAny]
urlpatterns = [
    path("jobs/", jobs.JobList.as_view(), name="api-jobs"),
    path("jobs/<int:pk>/", jobs.JobDetail.as_view(), name="api-job"),
    path("jobs/<int:pk>/cancel/", jobs.JobCancel.as_view(), name="api-job-cancel"),
    path("jobs/<int:pk>/run/", jobs.JobRun.as_view(), name="api-job-run"),
    path("jobs/<int:pk>/bundle/", jobs.JobBundle.as_view(), name="api-job-bundle"),
    path("jobs/<int:pk>/reports/", reports.JobReports.as_view(), name="api-job-reports"),
    path("reports/<int:pk>/", reports.ReportDetail.as_view(), name="api-report"),
    path("reports/<int:pk>/pdf", reports.ReportPdf.as_view(), name="api-report-pdf"),
    path("ledger/checkpoint/", ledger.LatestCheckpoint.as_view(), name="api-ledger-checkpoint"),
    path("ledger/checkpoint/note/", ledger.LatestCheckpointNote.as_view(), name="api-ledger-checkpoint-note"),
    path("ledger/inclusion/<str:sequence>/", ledger.InclusionProof.as_view(), name="api-ledger-inclusion"),
    path("ledger/consistency/", ledger.ConsistencyProof.as_view(), name="api-ledger-consistency"),
    path("ledger/public-key/", ledger.PublicKey.as_view(), name="api-ledger-public-key"),
    # The contract and its readers are public: they describe operations, never data, and clients are generated
    # from them before anyone holds a key.
    path("schema/", SpectacularAPIView.as_view(permission_classes=PUBLIC), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=PUBLIC),
        name="api-docs",
    ),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema", permission_classes=PUBLIC), name="api-redoc"),
]
# Last: any other path under /api/v1/ is a problem+json 404, not the web UI's HTML page.
catch_all = [re_path(r"^.*$", problems.not_found)]
