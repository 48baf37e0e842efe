"""Where the server keeps everything: the ``Store`` interface and its SQLite implementation.

The tables: ``state_machines`` (the current revision of each machine), ``revisions`` (every
definition a machine had: an execution pins one), ``executions``, ``events`` (the
AWS-shaped history, which is also the journal a restarted server replays; each row may
carry the task token its Task issued), ``activities``, ``tags`` and ``meta`` (the
pagination secret).  The SQL is plain: ``?`` parameters, ``BIGINT``/``TEXT``/``DOUBLE
PRECISION`` columns, no SQLite-only clauses, so a PostgreSQL store is a new connection
and placeholder style, not new statements.

SQLite runs in WAL mode; a commit happens before anything it records becomes visible
outside the process (a response, a handler call, a token handed out).  ``synchronous``
is NORMAL: a killed process loses nothing; a power cut may lose the last commits.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from typing import Any, Iterable, Protocol

SCHEMA_VERSION = 1

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS state_machines (
        arn TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
        type TEXT NOT NULL, status TEXT NOT NULL, revision_id TEXT NOT NULL, role_arn TEXT NOT NULL,
        logging TEXT NOT NULL, tracing TEXT NOT NULL, encryption TEXT, description TEXT,
        created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS revisions (
        revision_id TEXT PRIMARY KEY, sm_arn TEXT NOT NULL, definition TEXT NOT NULL, role_arn TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS executions (
        arn TEXT PRIMARY KEY, seq BIGINT NOT NULL, sm_arn TEXT NOT NULL, name TEXT NOT NULL,
        revision_id TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL, output TEXT,
        error TEXT, cause TEXT, start DOUBLE PRECISION NOT NULL, stop DOUBLE PRECISION,
        seed BIGINT NOT NULL, trace_header TEXT, test_case TEXT, version_arn TEXT, alias_arn TEXT,
        redrive_count BIGINT NOT NULL DEFAULT 0, redrive_date DOUBLE PRECISION, redrive_token TEXT)""",
    "CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (sm_arn, seq)",
    "CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status)",
    """CREATE TABLE IF NOT EXISTS events (
        execution_arn TEXT NOT NULL, id BIGINT NOT NULL, previous_id BIGINT NOT NULL, type TEXT NOT NULL,
        timestamp BIGINT NOT NULL, details TEXT, token TEXT, PRIMARY KEY (execution_arn, id))""",
    "CREATE INDEX IF NOT EXISTS events_by_token ON events (token)",
    """CREATE TABLE IF NOT EXISTS activities (
        arn TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL, seq BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS versions (
        arn TEXT PRIMARY KEY, sm_arn TEXT NOT NULL, number BIGINT NOT NULL, revision_id TEXT NOT NULL,
        description TEXT, created DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS versions_by_machine ON versions (sm_arn, number)",
    """CREATE TABLE IF NOT EXISTS aliases (
        arn TEXT PRIMARY KEY, sm_arn TEXT NOT NULL, name TEXT NOT NULL, description TEXT, routing TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS inbox (
        token TEXT PRIMARY KEY, execution_arn TEXT NOT NULL, outcome TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS map_runs (
        arn TEXT PRIMARY KEY, execution_arn TEXT NOT NULL, sm_arn TEXT NOT NULL, status TEXT NOT NULL,
        start DOUBLE PRECISION NOT NULL, stop DOUBLE PRECISION, max_concurrency BIGINT NOT NULL,
        tolerated_count BIGINT NOT NULL, tolerated_percentage DOUBLE PRECISION NOT NULL, total BIGINT NOT NULL,
        seq BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS map_runs_by_execution ON map_runs (execution_arn, seq)",
    """CREATE TABLE IF NOT EXISTS map_run_children (
        arn TEXT PRIMARY KEY, map_run_arn TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
        start DOUBLE PRECISION NOT NULL, stop DOUBLE PRECISION, seq BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS children_by_map_run ON map_run_children (map_run_arn, seq)",
    """CREATE TABLE IF NOT EXISTS tags (
        resource_arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (resource_arn, key))""",
]

Row = dict[str, Any]
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # history details, compact
# an event as stored: (id, previous_id, type, timestamp in epoch microseconds, details JSON or None, token)
EventRow = tuple[int, int, str, int, Any, "str | None"]


class Store(Protocol):
    """What the service needs from storage (one implementation per database)."""

    def secret(self) -> bytes: ...
    def put_state_machine(self, row: Row, revision: Row) -> None: ...
    def update_state_machine(self, arn: str, fields: Row, revision: Row | None) -> None: ...
    def state_machine(self, arn: str) -> Row | None: ...
    def state_machine_by_name(self, account: str, region: str, name: str) -> Row | None: ...
    def delete_state_machine(self, arn: str) -> None: ...
    def state_machines(self, account: str, region: str, after: str | None, limit: int) -> list[Row]: ...
    def revision(self, revision_id: str) -> Row | None: ...
    def put_version(self, row: Row) -> None: ...
    def versions(self, sm_arn: str, below: int | None, limit: int) -> list[Row]: ...
    def version(self, arn: str) -> Row | None: ...
    def delete_version(self, arn: str) -> None: ...
    def put_alias(self, row: Row) -> None: ...
    def update_alias(self, arn: str, fields: Row) -> None: ...
    def alias(self, arn: str) -> Row | None: ...
    def aliases(self, sm_arn: str, after: str | None, limit: int) -> list[Row]: ...
    def delete_alias(self, arn: str) -> None: ...
    def put_execution(self, row: Row) -> None: ...
    def execution(self, arn: str) -> Row | None: ...
    def executions(self, sm_arn: str, status: str | None, before: int | None, limit: int,
                   redriven: bool | None = None) -> list[Row]: ...
    def running(self) -> list[Row]: ...
    def update_execution(self, arn: str, fields: Row, events: list[EventRow]) -> None: ...
    def append(self, arn: str, events: list[EventRow], finish: Row | None = None,
               create: Row | None = None) -> None: ...
    def events(self, arn: str) -> list[EventRow]: ...
    def events_page(self, arn: str, after: int | None, reverse: bool, limit: int) -> list[EventRow]: ...
    def token_owner(self, token: str) -> str | None: ...
    def put_answer(self, token: str, arn: str, outcome: list[Any]) -> None: ...
    def answer(self, token: str) -> list[Any] | None: ...
    def put_map_run(self, row: Row) -> None: ...
    def update_map_run(self, arn: str, fields: Row) -> None: ...
    def map_run(self, arn: str) -> Row | None: ...
    def map_runs(self, execution_arn: str, after: int | None, limit: int) -> list[Row]: ...
    def put_child(self, row: Row) -> None: ...
    def update_child(self, arn: str, fields: Row) -> None: ...
    def children(self, map_run_arn: str, status: str | None, before: int | None, limit: int) -> list[Row]: ...
    def child_counts(self, map_run_arn: str) -> dict[str, int]: ...
    def put_activity(self, row: Row) -> None: ...
    def activity(self, arn: str) -> Row | None: ...
    def delete_activity(self, arn: str) -> None: ...
    def activities(self, account: str, region: str, after: int | None, limit: int) -> list[Row]: ...
    def tags(self, arn: str) -> list[tuple[str, str]]: ...
    def set_tags(self, arn: str, tags: Iterable[tuple[str, str]]) -> None: ...
    def remove_tags(self, arn: str, keys: Iterable[str]) -> None: ...
    def close(self) -> None: ...


class SqlStore:
    """The store over one database connection; the SQL is shared by every dialect.

    Statements use ``?`` parameters (rewritten for drivers that want ``%s``); every write
    runs in a transaction of its own (``_tx``), reads return dicts or tuples.  A subclass
    connects and says how a writing transaction begins.
    """

    placeholder = "?"
    begin = "BEGIN"

    def __init__(self, db: Any) -> None:
        self._db = db
        self._lock = threading.RLock()
        with self._tx() as tx:
            for statement in _SCHEMA:
                tx.execute(statement)
            found = tx.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if found is None:
                tx.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        self._seq = self._scalar("SELECT MAX(seq) FROM executions") or 0
        self._activity_seq = self._scalar("SELECT MAX(seq) FROM activities") or 0

    # ------------------------------------------------------------ plumbing
    class _Tx:
        """A writing transaction: ``execute`` / ``executemany`` inside it, commit at the end."""

        def __init__(self, store: SqlStore) -> None:
            self.store = store

        def __enter__(self) -> SqlStore._Tx:
            self.store._lock.acquire()
            self.store._db.execute(self.store.begin)
            return self

        def __exit__(self, exc_type: Any, *rest: Any) -> None:
            try:
                self.store._db.execute("ROLLBACK" if exc_type else "COMMIT")
            finally:
                self.store._lock.release()

        def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
            return self.store._db.execute(self.store._sql(sql), args)

        def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
            self.store._db.cursor().executemany(self.store._sql(sql), rows)

    def _tx(self) -> SqlStore._Tx:
        return SqlStore._Tx(self)

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _read(self, sql: str, args: tuple[Any, ...]) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._lock:
            cursor = self._db.execute(self._sql(sql), args)
            rows = cursor.fetchall()
            names = [d[0] for d in cursor.description or ()]
        return names, [tuple(r) for r in rows]

    def _scalar(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        _, rows = self._read(sql, args)
        return rows[0][0] if rows else None

    def _one(self, sql: str, args: tuple[Any, ...]) -> Row | None:
        found = self._all(sql, args)
        return found[0] if found else None

    def _all(self, sql: str, args: tuple[Any, ...]) -> list[Row]:
        names, rows = self._read(sql, args)
        return [dict(zip(names, r, strict=True)) for r in rows]

    @staticmethod
    def _insert(tx: SqlStore._Tx, table: str, row: Row) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        tx.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values()))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------ meta
    def secret(self) -> bytes:
        with self._tx() as tx:
            row = tx.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
            if row is not None:
                return bytes.fromhex(row[0])
            value = os.urandom(32)
            tx.execute("INSERT INTO meta (key, value) VALUES ('secret', ?)", (value.hex(),))
            return value

    # ------------------------------------------------------------ state machines
    def put_state_machine(self, row: Row, revision: Row) -> None:
        with self._tx() as tx:
            self._insert(tx, "revisions", revision)
            self._insert(tx, "state_machines", row)

    def update_state_machine(self, arn: str, fields: Row, revision: Row | None) -> None:
        with self._tx() as tx:
            if revision is not None:
                self._insert(tx, "revisions", revision)
            sets = ", ".join(f"{k} = ?" for k in fields)
            tx.execute(f"UPDATE state_machines SET {sets} WHERE arn = ?", (*fields.values(), arn))

    def state_machine(self, arn: str) -> Row | None:
        return self._one("SELECT * FROM state_machines WHERE arn = ?", (arn,))

    def state_machine_by_name(self, account: str, region: str, name: str) -> Row | None:
        return self._one(
            "SELECT * FROM state_machines WHERE account = ? AND region = ? AND name = ?", (account, region, name)
        )

    def delete_state_machine(self, arn: str) -> None:
        """The machine, its versions and aliases go (executions and their revisions stay)."""
        with self._tx() as tx:
            tx.execute("DELETE FROM state_machines WHERE arn = ?", (arn,))
            tx.execute("DELETE FROM versions WHERE sm_arn = ?", (arn,))
            tx.execute("DELETE FROM aliases WHERE sm_arn = ?", (arn,))
            tx.execute("DELETE FROM tags WHERE resource_arn = ?", (arn,))

    # ------------------------------------------------------------ versions and aliases
    def put_version(self, row: Row) -> None:
        with self._tx() as tx:
            self._insert(tx, "versions", row)

    def versions(self, sm_arn: str, below: int | None, limit: int) -> list[Row]:
        return self._all(
            "SELECT * FROM versions WHERE sm_arn = ? AND number < ? ORDER BY number DESC LIMIT ?",
            (sm_arn, below if below is not None else 2**62, limit),
        )

    def version(self, arn: str) -> Row | None:
        return self._one("SELECT * FROM versions WHERE arn = ?", (arn,))

    def delete_version(self, arn: str) -> None:
        with self._tx() as tx:
            tx.execute("DELETE FROM versions WHERE arn = ?", (arn,))

    def put_alias(self, row: Row) -> None:
        with self._tx() as tx:
            self._insert(tx, "aliases", row)

    def update_alias(self, arn: str, fields: Row) -> None:
        with self._tx() as tx:
            sets = ", ".join(f"{k} = ?" for k in fields)
            tx.execute(f"UPDATE aliases SET {sets} WHERE arn = ?", (*fields.values(), arn))

    def alias(self, arn: str) -> Row | None:
        return self._one("SELECT * FROM aliases WHERE arn = ?", (arn,))

    def aliases(self, sm_arn: str, after: str | None, limit: int) -> list[Row]:
        return self._all(
            "SELECT * FROM aliases WHERE sm_arn = ? AND name > ? ORDER BY name LIMIT ?", (sm_arn, after or "", limit)
        )

    def delete_alias(self, arn: str) -> None:
        with self._tx() as tx:
            tx.execute("DELETE FROM aliases WHERE arn = ?", (arn,))

    def state_machines(self, account: str, region: str, after: str | None, limit: int) -> list[Row]:
        return self._all(
            "SELECT * FROM state_machines WHERE account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?",
            (account, region, after or "", limit),
        )

    def revision(self, revision_id: str) -> Row | None:
        return self._one("SELECT * FROM revisions WHERE revision_id = ?", (revision_id,))

    # ------------------------------------------------------------ executions
    def put_execution(self, row: Row) -> None:
        with self._tx() as tx:
            self._seq += 1
            self._insert(tx, "executions", {**row, "seq": self._seq})

    def execution(self, arn: str) -> Row | None:
        return self._one("SELECT * FROM executions WHERE arn = ?", (arn,))

    def executions(self, sm_arn: str, status: str | None, before: int | None, limit: int,
                   redriven: bool | None = None) -> list[Row]:
        sql = "SELECT * FROM executions WHERE sm_arn = ? AND seq < ?"
        args: tuple[Any, ...] = (sm_arn, before if before is not None else 2**62)
        if status is not None:
            sql += " AND status = ?"
            args += (status,)
        if redriven is not None:
            sql += " AND redrive_count > 0" if redriven else " AND redrive_count = 0"
        return self._all(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit))

    def update_execution(self, arn: str, fields: Row, events: list[EventRow]) -> None:
        """Change an execution's row and append events, in one transaction (a redrive)."""
        self.append(arn, events, fields)

    def running(self) -> list[Row]:
        return self._all("SELECT * FROM executions WHERE status = 'RUNNING' ORDER BY seq", ())

    def append(self, arn: str, events: list[EventRow], finish: Row | None = None, create: Row | None = None) -> None:
        """Commit history events in one transaction (with the last one, the execution's outcome;
        with ``create``, the execution's row first: an execution that ran to its end at once)."""
        rows = [
            (arn, eid, previous, kind, stamp,
             None if details is None else _dumps(details), token)
            for eid, previous, kind, stamp, details, token in events
        ]
        with self._tx() as tx:
            if create is not None:
                self._seq += 1
                self._insert(tx, "executions", {**create, "seq": self._seq})
            tx.executemany(
                "INSERT INTO events (execution_arn, id, previous_id, type, timestamp, details, token) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if finish is not None:
                sets = ", ".join(f"{k} = ?" for k in finish)
                tx.execute(f"UPDATE executions SET {sets} WHERE arn = ?", (*finish.values(), arn))
                if finish.get("status", "RUNNING") != "RUNNING":
                    tx.execute("DELETE FROM inbox WHERE execution_arn = ?", (arn,))

    def events(self, arn: str) -> list[EventRow]:
        return self.events_page(arn, None, False, 2**62)

    def events_page(self, arn: str, after: int | None, reverse: bool, limit: int) -> list[EventRow]:
        """``limit`` events after the id ``after`` (before it, newest first, when ``reverse``)."""
        if reverse:
            where, order, bound = "id < ?", "DESC", after if after is not None else 2**62
        else:
            where, order, bound = "id > ?", "ASC", after or 0
        _, rows = self._read(
            "SELECT id, previous_id, type, timestamp, details, token FROM events "
            f"WHERE execution_arn = ? AND {where} ORDER BY id {order} LIMIT ?",
            (arn, bound, limit),
        )
        return [(r[0], r[1], r[2], r[3], None if r[4] is None else json.loads(r[4]), r[5]) for r in rows]

    def token_owner(self, token: str) -> str | None:
        value = self._scalar("SELECT execution_arn FROM events WHERE token = ?", (token,))
        return None if value is None else str(value)

    def put_answer(self, token: str, arn: str, outcome: list[Any]) -> None:
        """Keep a SendTaskSuccess/Failure until the Task that waits for it has recorded it."""
        with self._tx() as tx:
            tx.execute("DELETE FROM inbox WHERE token = ?", (token,))
            tx.execute("INSERT INTO inbox (token, execution_arn, outcome) VALUES (?, ?, ?)",
                       (token, arn, json.dumps(outcome, separators=(",", ":"), ensure_ascii=False)))

    def answer(self, token: str) -> list[Any] | None:
        value = self._scalar("SELECT outcome FROM inbox WHERE token = ?", (token,))
        return None if value is None else list(json.loads(value))

    # ------------------------------------------------------------ Map Runs and their child executions
    def put_map_run(self, row: Row) -> None:
        with self._tx() as tx:
            tx.execute("DELETE FROM map_runs WHERE arn = ?", (row["arn"],))
            self._insert(tx, "map_runs", row)

    def update_map_run(self, arn: str, fields: Row) -> None:
        with self._tx() as tx:
            sets = ", ".join(f"{k} = ?" for k in fields)
            tx.execute(f"UPDATE map_runs SET {sets} WHERE arn = ?", (*fields.values(), arn))

    def map_run(self, arn: str) -> Row | None:
        return self._one("SELECT * FROM map_runs WHERE arn = ?", (arn,))

    def map_runs(self, execution_arn: str, after: int | None, limit: int) -> list[Row]:
        return self._all(
            "SELECT * FROM map_runs WHERE execution_arn = ? AND seq > ? ORDER BY seq LIMIT ?",
            (execution_arn, after or 0, limit),
        )

    def put_child(self, row: Row) -> None:
        """A child execution started (again, when its parent resumed: the row starts over)."""
        with self._tx() as tx:
            tx.execute("DELETE FROM map_run_children WHERE arn = ?", (row["arn"],))
            self._insert(tx, "map_run_children", row)

    def update_child(self, arn: str, fields: Row) -> None:
        with self._tx() as tx:
            sets = ", ".join(f"{k} = ?" for k in fields)
            tx.execute(f"UPDATE map_run_children SET {sets} WHERE arn = ?", (*fields.values(), arn))

    def children(self, map_run_arn: str, status: str | None, before: int | None, limit: int) -> list[Row]:
        sql = "SELECT * FROM map_run_children WHERE map_run_arn = ? AND seq < ?"
        args: tuple[Any, ...] = (map_run_arn, before if before is not None else 2**62)
        if status is not None:
            sql += " AND status = ?"
            args += (status,)
        return self._all(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit))

    def child_counts(self, map_run_arn: str) -> dict[str, int]:
        _, rows = self._read(
            "SELECT status, COUNT(*) FROM map_run_children WHERE map_run_arn = ? GROUP BY status", (map_run_arn,)
        )
        return {str(r[0]): int(r[1]) for r in rows}

    # ------------------------------------------------------------ activities and tags
    def put_activity(self, row: Row) -> None:
        with self._tx() as tx:
            self._activity_seq += 1
            self._insert(tx, "activities", {**row, "seq": self._activity_seq})

    def activity(self, arn: str) -> Row | None:
        return self._one("SELECT * FROM activities WHERE arn = ?", (arn,))

    def delete_activity(self, arn: str) -> None:
        with self._tx() as tx:
            tx.execute("DELETE FROM activities WHERE arn = ?", (arn,))
            tx.execute("DELETE FROM tags WHERE resource_arn = ?", (arn,))

    def activities(self, account: str, region: str, after: int | None, limit: int) -> list[Row]:
        return self._all(
            "SELECT * FROM activities WHERE account = ? AND region = ? AND seq > ? ORDER BY seq LIMIT ?",
            (account, region, after or 0, limit),
        )

    def tags(self, arn: str) -> list[tuple[str, str]]:
        _, rows = self._read("SELECT key, value FROM tags WHERE resource_arn = ? ORDER BY key", (arn,))
        return [(r[0], r[1]) for r in rows]

    def set_tags(self, arn: str, tags: Iterable[tuple[str, str]]) -> None:
        with self._tx() as tx:
            for key, value in tags:
                tx.execute("DELETE FROM tags WHERE resource_arn = ? AND key = ?", (arn, key))
                tx.execute("INSERT INTO tags (resource_arn, key, value) VALUES (?, ?, ?)", (arn, key, value))

    def remove_tags(self, arn: str, keys: Iterable[str]) -> None:
        with self._tx() as tx:
            for key in keys:
                tx.execute("DELETE FROM tags WHERE resource_arn = ? AND key = ?", (arn, key))


class SqliteStore(SqlStore):
    """The store in one SQLite file (``:memory:`` for a throwaway server), in WAL mode."""

    begin = "BEGIN IMMEDIATE"

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        if path != ":memory:":
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)
        self._lock_file = _claim(path) if path != ":memory:" else None
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 30000")
        self._stop_checkpoints: threading.Event | None = None
        if path != ":memory:":
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints (and their fsync) off the request path
        db.execute("PRAGMA synchronous = NORMAL")
        super().__init__(db)
        if path != ":memory:":
            self._stop_checkpoints = threading.Event()
            threading.Thread(target=self._checkpoints, name="stepfn-checkpoint", daemon=True).start()

    def _checkpoints(self, every: float = 1.0) -> None:
        """Copy the WAL back into the database file every ``every`` seconds, on a connection of its own."""
        assert self._stop_checkpoints is not None
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 1000")
            while not self._stop_checkpoints.wait(every):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # busy or closing: the next round copies it
                    pass
        finally:
            db.close()

    def close(self) -> None:
        if self._stop_checkpoints is not None:
            self._stop_checkpoints.set()
        super().close()
        if self._lock_file is not None:
            self._lock_file.close()  # and with it the lock


def _claim(path: str) -> Any:
    """Hold ``<path>-serve.lock`` while the store is open: one server per database file.

    Two servers on one file would each resume the other's running executions.  The lock
    goes with the process, however it ends (``kill -9`` included).
    """
    try:
        import fcntl
    except ImportError:  # no flock here: the rule stays a documented one
        return None
    from stepfn.errors import UsageError

    handle = open(path + "-serve.lock", "a+")  # noqa: SIM115 - held open as long as the store
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise UsageError(f"the database {path} is in use by another stepfn serve (one server per database)") from None
    return handle


class PostgresStore(SqlStore):
    """The store in a PostgreSQL database (``dsn``: a libpq connection string), through psycopg.

    The same tables and statements as SQLite.  One server per database for now: sharing one
    between several servers needs leases on executions, which are not written yet.
    """

    placeholder = "%s"

    def __init__(self, dsn: str) -> None:
        try:
            import psycopg
        except ImportError as exc:
            from stepfn.errors import UsageError

            raise UsageError(f"a PostgreSQL store needs psycopg (pip install 'psycopg[binary]'): {exc}") from None
        self.path = dsn
        super().__init__(psycopg.connect(dsn, autocommit=True))
