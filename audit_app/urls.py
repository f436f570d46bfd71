from django.urls import include, path

from audit_app.web.api import openai_urls
from audit_app.web.api import urls as api_urls

urlpatterns = [
    path("api/v1/", include(api_urls.urlpatterns + api_urls.catch_all)),
    path("v1/", include(openai_urls.urlpatterns)),  # the OpenAI-compatible facade (docs/api.md)
    path("", include("audit_app.web.urls")),
]
