"""One :class:`~authserver.storage.Storage` connection per request, closed when the request ends."""

from flask import current_app, g

from .storage import Storage


def get_storage() -> Storage:
    if "storage" not in g:
        g.storage = Storage.open(current_app.config["DATABASE"])
    return g.storage


def close_storage(exception: BaseException | None = None) -> None:
    storage = g.pop("storage", None)
    if storage is not None:
        storage.close()


def init_app(app) -> None:
    app.teardown_appcontext(close_storage)
