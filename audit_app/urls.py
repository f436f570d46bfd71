from django.urls import include, path

from audit_app.web.api import urls as api_urls

urlpatterns = [
    path("api/v1/", include(api_urls.urlpatterns + api_urls.catch_all)),
    path("", include("audit_app.web.urls")),
]
