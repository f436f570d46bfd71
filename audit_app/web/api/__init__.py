"""``/api/v1/``: the REST API for case systems (Django REST framework), beside the web UI, over the same services."""
