from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from audit_app.web import auditor, login, operator, operator_api_keys, operator_users, operator_webhooks, review, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("login/", login.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.job_list, name="job-list"),
    path("jobs/new/", views.submit, name="job-submit"),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<int:pk>/live/", views.job_live, name="job-live"),
    path("jobs/<int:pk>/cancel/", views.job_cancel, name="job-cancel"),
    path("jobs/<int:pk>/rerun/", views.job_rerun, name="job-rerun"),
    path("operator/kill-switch/", operator.kill_switch, name="kill-switch"),
    path("auditor/ledger/", auditor.ledger_status, name="ledger"),
    path("auditor/ledger/runs/<int:pk>/", auditor.verification_progress, name="verification-progress"),
    path("auditor/entries/", auditor.ledger_entries, name="ledger-entries"),
    path("auditor/entries/<int:sequence>/", auditor.ledger_entry, name="ledger-entry"),
    path("jobs/<int:pk>/bundle/", auditor.job_bundle, name="job-bundle"),
    path("operator/jobs/", operator.operator_jobs, name="operator-jobs"),
    path("operator/workers/", operator.operator_workers, name="operator-workers"),
    path("operator/users/", operator_users.operator_users, name="operator-users"),
    path("operator/webhooks/", operator_webhooks.operator_webhooks, name="operator-webhooks"),
    path(
        "operator/users/<int:pk>/deactivate/",
        operator_users.set_account_active,
        {"active": False},
        name="operator-user-deactivate",
    ),
    path(
        "operator/users/<int:pk>/reactivate/",
        operator_users.set_account_active,
        {"active": True},
        name="operator-user-reactivate",
    ),
    path(
        "operator/users/<int:pk>/assign/",
        operator_users.change_assignment,
        {"remove": False},
        name="operator-user-assign",
    ),
    path(
        "operator/users/<int:pk>/unassign/",
        operator_users.change_assignment,
        {"remove": True},
        name="operator-user-unassign",
    ),
    path("operator/api-keys/", operator_api_keys.api_keys, name="operator-api-keys"),
    path("operator/api-keys/<int:pk>/revoke/", operator_api_keys.revoke, name="operator-api-key-revoke"),
    path("review/", review.queue, name="review-queue"),
    path("jobs/<int:pk>/review/", review.job_review, name="job-review"),
]
