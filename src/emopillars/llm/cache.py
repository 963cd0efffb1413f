"""Content-addressed store of generation results (SQLite in WAL mode).

Each row maps a request key (see :func:`emopillars.llm.engine.request_key`) to
the JSON of its result. Rows are written one batch per transaction, so a
process killed at any moment leaves every finished batch on disk and at most
the batch in flight lost. WAL mode lets readers (a second process, a notebook)
look at the cache while a run writes to it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class GenerationCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL keeps committed transactions through a process kill (not through power loss).
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
        except sqlite3.OperationalError as e:  # locked, read-only, or its folder cannot be written
            self._conn.close()
            raise ValueError(f"{self.path}: cannot open the generation cache ({e}); make it and its folder "
                             "writable, wait for the process that holds it, or set llm.cache_path") from None
        except sqlite3.DatabaseError as e:
            self._conn.close()
            raise ValueError(f"{self.path}: not a generation cache ({e}); move it away or set llm.cache_path") from None

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in self._conn.execute(f"SELECT key, value FROM generations WHERE key IN ({marks})", chunk):
                found[key] = json.loads(value)
        return found

    def put_many(self, items: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Write ``(key, value)`` pairs in one transaction; return how many."""
        now = time.time()
        rows = [(k, json.dumps(v, ensure_ascii=False, sort_keys=True), now) for k, v in items]
        if not rows:
            return 0
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany("INSERT OR REPLACE INTO generations (key, value, created) VALUES (?, ?, ?)", rows)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return len(rows)

    def keys(self) -> Iterator[str]:
        for (key,) in self._conn.execute("SELECT key FROM generations"):
            yield key

    def __len__(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0]

    def __contains__(self, key: str) -> bool:
        return self._conn.execute("SELECT 1 FROM generations WHERE key = ?", (key,)).fetchone() is not None

    def close(self) -> None:
        self._conn.close()
