"""The WSGI entry point: ``gunicorn yourservice.wsgi`` (any WSGI server takes ``application``)."""

import os

from django.core.wsgi import get_wsgi_application

# The settings of this package, whatever it is called.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{__package__}.settings")

application = get_wsgi_application()
