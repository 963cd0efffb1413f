"""How a command or a stage script ends on a failure the user can fix: one line, exit code 2.

    if __name__ == "__main__":
        raise SystemExit(run_main(main))

An expected failure (bad input, a path that cannot be read or written, a
generation cache that is locked or read-only, an out-of-range option) prints
``<command>: error: <what, where, what to do>`` on stderr and exits 2. Anything
else is a bug and keeps Python's traceback. ``--debug`` anywhere on the command
line (taken out before the script parses it) or ``EMOPILLARS_DEBUG=1`` adds the
traceback to expected failures too.

This module imports nothing else from the project: every stage script loads it.
"""

from __future__ import annotations

import argparse
import errno
import os
import sqlite3
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Callable, Optional, Sequence

EXIT_USER_ERROR = 2
DEBUG_ENV = "EMOPILLARS_DEBUG"
DEBUG_FLAG = "--debug"

# The project's own failure types that are neither ValueError nor OSError, named rather than imported so
# that this module stays free of the rest of the project.
EXPECTED_TYPES = frozenset({
    "emopillars.llm.types.EngineError",
    "emopillars.data.materialize.MaterializeError",
    "emopillars.models.ModelMaterialisationError",
})

_OS_HINTS = {
    errno.ENOENT: "check the path",
    errno.EACCES: "fix its permissions or choose another path",
    errno.EPERM: "fix its permissions or choose another path",
    errno.EROFS: "choose a path on a writable file system",
    errno.EISDIR: "this is a folder; give a file",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.ENOSPC: "free some disk space or choose another path",
    errno.EEXIST: "move it away or choose another path",
}

_SQLITE_HINTS = {
    "database is locked": "another process has held the generation cache for over a minute; wait for it to finish, "
                          "or give this run its own llm.cache_path",
    "readonly database": "the generation cache or its folder is read-only; make it writable or set llm.cache_path",
    "unable to open database file": "the generation cache cannot be opened; check that llm.cache_path's folder "
                                    "exists and is writable",
    "disk i/o error": "the generation cache could not be read or written; check the disk and llm.cache_path",
}


class UnwritablePath(PermissionError):
    """An output path that cannot be written, found before any long work starts."""


def take_debug_flag(argv: Sequence[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--debug``, and whether tracebacks were asked for (the flag or ``EMOPILLARS_DEBUG``).

    The flag is passed on to child processes as ``EMOPILLARS_DEBUG=1``.
    """
    args = list(argv)
    if DEBUG_FLAG in args:
        os.environ[DEBUG_ENV] = "1"
        args = [a for a in args if a != DEBUG_FLAG]
    return args, os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def is_expected(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure the user can act on (not a bug in the project)."""
    if isinstance(exc, (ValueError, OSError, sqlite3.Error)):
        return True
    return any(f"{t.__module__}.{t.__qualname__}" in EXPECTED_TYPES for t in type(exc).__mro__)


def describe(exc: BaseException) -> str:
    """One line for ``exc``: what went wrong, where, and what to do when the exception does not say."""
    if isinstance(exc, OSError) and exc.filename is not None and not isinstance(exc, UnwritablePath):
        where = str(exc.filename) + (f" -> {exc.filename2}" if exc.filename2 is not None else "")
        what = exc.strerror or str(exc)
        hint = _OS_HINTS.get(exc.errno)
        return f"{where}: {what}" + (f" ({hint})" if hint else "")
    if isinstance(exc, sqlite3.Error):
        text = str(exc)
        hint = next((h for key, h in _SQLITE_HINTS.items() if key in text.lower()), None)
        return f"generation cache: {text}" + (f" ({hint})" if hint else "")
    if type(exc).__name__ == "ValidationError" and callable(getattr(exc, "errors", None)):
        problems = [f"{'.'.join(map(str, e.get('loc', ()))) or 'value'}: {e.get('msg')}" for e in exc.errors()]
        return f"{getattr(exc, 'title', 'input')}: " + "; ".join(problems)
    text = str(exc).strip()
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({text}); save the file as UTF-8"
    return text or type(exc).__name__


def report(prog: str, message: str) -> None:
    """Print ``message`` as ``prog``'s error line (a message that already names ``prog`` is kept as it is)."""
    line = message if message.startswith(f"{prog}:") else f"{prog}: error: {message}"
    print(line, file=sys.stderr, flush=True)


def guarded(fn: Callable[[], Optional[int]], prog: str, debug: bool = False) -> int:
    """Run ``fn`` and return its exit code; an expected failure becomes one line and exit code 2."""
    try:
        return int(fn() or 0)
    except SystemExit as e:
        if isinstance(e.code, str):  # raise SystemExit("message"): a message for the user
            if debug:
                traceback.print_exc()
            report(prog, e.code)
            return EXIT_USER_ERROR
        raise
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BaseException as e:
        if not is_expected(e):
            raise
        if debug:
            traceback.print_exc()
        report(prog, describe(e))
        return EXIT_USER_ERROR


def run_main(main: Callable[[list[str]], Optional[int]], prog: Optional[str] = None,
             argv: Optional[Sequence[str]] = None) -> int:
    """A stage script's ``main(argv)`` under the error boundary; ``prog`` defaults to the script's name."""
    args, debug = take_debug_flag(sys.argv[1:] if argv is None else argv)
    return guarded(lambda: main(args), prog or Path(sys.argv[0]).stem, debug)


# --------------------------------------------------------------------------- checks made before long work
def require_writable(*paths: Optional[str | os.PathLike], what: str = "output") -> None:
    """Fail now, naming the path, if any of ``paths`` (files or folders to be written) cannot be written.

    A file is written by a rename in its folder and a folder may be replaced whole, so the nearest folder
    that exists above each path must take a new file; an existing folder must take one too, as files are
    written into it. ``None`` entries are skipped.
    """
    for raw in paths:
        if raw is None or str(raw) == "":
            continue
        path = Path(raw)
        if path.is_dir():
            _probe(path, path, what)
        ancestor = path.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise UnwritablePath(f"{path}: cannot write this {what}: {ancestor} is a file, not a folder "
                                 "(choose another path)")
        _probe(path, ancestor, what)


def _probe(path: Path, folder: Path, what: str) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=".emopillars-write-check-", dir=folder)
    except OSError as e:
        reason = e.strerror or str(e)
        raise UnwritablePath(f"{path}: cannot write this {what}: {folder} does not take new files ({reason}); "
                             "make it writable or choose another path") from None
    os.close(fd)
    os.unlink(name)


# --------------------------------------------------------------------------- argparse types for numeric options
def positive_int(text: str) -> int:
    """``type=`` for an option that must be a whole number of at least 1 (a batch size, a length)."""
    return _bounded_int(text, 1)


def non_negative_int(text: str) -> int:
    """``type=`` for an option that must be a whole number of at least 0 (a retry count)."""
    return _bounded_int(text, 0)


def _bounded_int(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {value}")
    return value
