"""The API's error body, ``{"error", "error_description"}``: ``shared.web``'s, which every answer
of the app uses (``shared.web.init_json_errors``). Named here for ``api.gunicorn_worker``, which
gives gunicorn's own refusals the same body."""

from shared.web import error_body

__all__ = ["error_body"]
