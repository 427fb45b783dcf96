"""Group commit: the single-use writes of concurrent token requests share one commit.

A refresh and a code redemption each write once, in one transaction (the credential marked used,
the new tokens stored; :class:`~.base.SingleUseMixin`), and each commit waits for the disk: in
WAL mode SQLite's default ``synchronous = FULL`` syncs the log on every commit, so that a
rotation the client was told of survives a power cut. A sync takes a millisecond or more (more
on a busy disk), and SQLite lets one connection write at a time: commit by commit, the disk
alone would cap the token endpoint's rate.

So the writes of the requests that arrive while a commit is in progress wait in a queue, and the
next request to get the turn (the leader) runs them all in one transaction on its connection and
commits once. Should one of them fail, the transaction is rolled back and each write runs again
in a transaction of its own, so that only the failing one fails (a write is a few statements on
the database, nothing else: running it again is running it once). Every request gets its own
write's result only once its commit is done: nothing is answered before it is durable. (Every
statement lets the other request threads take Python's lock, which the leader may then wait for;
the fewer statements while the others wait, the sooner they all go on.) Queued on a lock of this process rather than on SQLite's lock,
the next leader starts as soon as the last commit ends (SQLite makes a waiting connection poll,
sleeping longer after each failed try, up to 100 ms).

One queue per app, so per database (:func:`group_commit`).
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from ..storage import Storage

EXTENSION_NAME = "authserver_group_commit"


@dataclass(eq=False)
class _Write:
    work: Callable[[Storage], Any]
    done: bool = False
    committed: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    """Runs ``work(storage)`` functions of concurrent requests in shared transactions."""

    def __init__(self) -> None:
        self._turn = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Write] = []

    def __len__(self) -> int:
        """How many writes wait for the next commit."""
        with self._queue_lock:
            return len(self._queue)

    def run(self, storage: Storage, work: Callable[[Storage], Any]) -> Any:
        """``work(storage)``'s result once it is committed (or its exception, or the commit's)."""
        write = _Write(work)
        with self._queue_lock:
            self._queue.append(write)
        with self._turn:
            if not write.done:
                self._commit_queued(storage)
        if write.error is not None:
            raise write.error
        return write.result

    def _commit_queued(self, storage: Storage) -> None:
        with self._queue_lock:
            batch, self._queue = self._queue, []
        try:
            try:
                _commit(storage, batch)
            except Exception:
                # One write failed, and the transaction with it: each again in a transaction of
                # its own, so that the failing one fails alone.
                for write in batch:
                    _commit_alone(storage, write)
        except BaseException as error:
            # Interrupted (KeyboardInterrupt, SystemExit...), perhaps halfway through the writes
            # one by one: those committed already stand, and their requests get their results.
            for write in batch:
                if not write.committed:
                    write.result, write.error = None, error
            raise
        finally:
            for write in batch:
                write.done = True


def _commit(storage: Storage, batch: list[_Write]) -> None:
    with storage.transaction():
        for write in batch:
            write.result = write.work(storage)
    for write in batch:
        write.committed = True


def _commit_alone(storage: Storage, write: _Write) -> None:
    try:
        _commit(storage, [write])
    except Exception as error:
        write.result, write.error = None, error


def group_commit() -> GroupCommit:
    """The app's group commit."""
    return current_app.extensions.setdefault(EXTENSION_NAME, GroupCommit())
