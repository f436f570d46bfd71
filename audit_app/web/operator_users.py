"""The operator's Users page: accounts, roles, teams and reviewer scope; deactivate, reactivate, assign.

It shows no case content. Its changes are configuration, logged with the operator's name (services/users.py),
not ledgered evidence.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from audit_app.models import Team
from audit_app.models.organisation import DOMAINS
from audit_app.services.users import (
    UserChangeRefused,
    assign_reviewer,
    remove_assignment,
    set_active,
    user_rows,
)
from audit_app.web.permissions import OPERATOR, require_role

REFUSAL = "Only operators can manage users."


def _page(request: HttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "rows": user_rows(),
        "teams": Team.objects.order_by("name").values_list("name", flat=True),
        "domains": DOMAINS,
        "error": error,
    }
    return render(request, "operator/users.html", context, status=status)


@login_required
@require_safe
def operator_users(request: HttpRequest) -> HttpResponse:
    require_role(request, OPERATOR, REFUSAL)
    return _page(request)


def _actor(operator: User) -> str:
    return f"operator {operator.get_username()} (id {operator.pk})"


@login_required
@require_POST
def set_account_active(request: HttpRequest, pk: int, active: bool) -> HttpResponse:
    operator = require_role(request, OPERATOR, REFUSAL)
    try:
        user = set_active(_actor(operator), pk, active, acting_user=operator)
    except UserChangeRefused as refusal:
        return _page(request, str(refusal), status=400)
    return _done(request, f"{user.get_username()} is now {'active' if active else 'deactivated'}.")


@login_required
@require_POST
def change_assignment(request: HttpRequest, pk: int, remove: bool) -> HttpResponse:
    operator = require_role(request, OPERATOR, REFUSAL)
    team, domain = request.POST.get("team", ""), request.POST.get("domain", "")
    try:
        user = User.objects.filter(pk=pk).first()
        if user is None:
            raise UserChangeRefused(f"There is no user with id {pk}; nothing was changed.")
        if remove:
            remove_assignment(_actor(operator), user, team, [domain], acting_user=operator)
        else:
            assign_reviewer(_actor(operator), user, team, [domain], acting_user=operator)
    except UserChangeRefused as refusal:
        return _page(request, str(refusal), status=400)
    verb = "no longer reviews" if remove else "now reviews"
    return _done(request, f"{user.get_username()} {verb} {team} in {domain}.")


def _done(request: HttpRequest, sentence: str) -> HttpResponse:
    messages.success(request, sentence)
    return redirect("operator-users")
