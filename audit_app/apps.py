from django.apps import AppConfig


class AuditAppConfig(AppConfig):
    name = "audit_app"
    verbose_name = "Glassbox"

    def ready(self) -> None:
        from audit_app.services.users import guard_user_deletion

        # User ids are named by evidence and must never be reused: accounts are deactivated, not deleted.
        guard_user_deletion()
