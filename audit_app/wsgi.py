import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "audit_app.settings")
application = get_wsgi_application()

# Each web worker loads the tokenizer before it takes a request. Loaded at the first submission instead, it held
# every thread of that worker, reads included, for seconds (over 12 s when 16 first submissions came at once).
from audit_app.services.prompts import warm_up  # noqa: E402  (needs the settings that the line above loads)

warm_up()
