from django.urls import include, path

urlpatterns = [path("", include("audit_app.web.urls"))]
