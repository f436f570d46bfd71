"""The operator's kill switch page (AI Act Art. 26(5))."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from audit_app.services.evidence import kill_switch_history
from audit_app.services.killswitch import current_suspension, resume_inference, suspend_inference
from audit_app.web.forms import SuspendForm
from audit_app.web.permissions import OPERATOR, require_role


@login_required
def kill_switch(request: HttpRequest) -> HttpResponse:
    user = require_role(request, OPERATOR, "Only operators can suspend or resume inference.")
    form = SuspendForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("action") == "resume":
            resume_inference(user, request.POST.get("reason", ""))
            return redirect("kill-switch")
        if form.is_valid():
            suspend_inference(user, form.cleaned_data["reason"])
            return redirect("kill-switch")
    history = kill_switch_history(50)
    return render(
        request, "operator/kill_switch.html", {"form": form, "suspension": current_suspension(), "history": history}
    )
