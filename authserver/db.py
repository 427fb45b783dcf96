"""One :class:`~authserver.storage.Storage` connection per request, from a small per-app pool.

Opening a SQLite connection (and its ``PRAGMA``) and closing it again cost more than a grant's
queries, so a request takes a connection its app opened before and gives it back when it ends.
A connection comes back clean: a transaction a failed request left open is rolled back first,
and a connection that cannot even do that is closed. The pool holds at most
:data:`POOL_SIZE` idle connections (the request threads of ``python -m authserver``); it is
created empty and filled by the first requests, so a forked worker never shares one.
"""

import sqlite3
import threading

from flask import current_app, g

from .storage import Storage

POOL_SIZE = 8
EXTENSION_NAME = "authserver_storage_pool"


class StoragePool:
    def __init__(self, path: str, size: int = POOL_SIZE) -> None:
        self.path = path
        self.size = size
        self._idle: list[Storage] = []
        self._lock = threading.Lock()

    def take(self) -> Storage:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return Storage.open(self.path)

    def give_back(self, storage: Storage) -> None:
        try:
            if storage.db.in_transaction:
                storage.db.execute("ROLLBACK")
        except sqlite3.Error:
            storage.close()
            return
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(storage)
                return
        storage.close()


def get_storage() -> Storage:
    if "storage" not in g:
        g.storage = current_app.extensions[EXTENSION_NAME].take()
    return g.storage


def close_storage(exception: BaseException | None = None) -> None:
    storage = g.pop("storage", None)
    if storage is not None:
        current_app.extensions[EXTENSION_NAME].give_back(storage)


def init_app(app) -> None:
    app.extensions[EXTENSION_NAME] = StoragePool(app.config["DATABASE"])
    app.teardown_appcontext(close_storage)
