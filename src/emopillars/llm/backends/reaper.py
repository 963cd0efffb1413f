"""Child processes that cannot outlive their parent, whenever the parent dies (model load included).

vLLM runs its engine core and workers in child processes (spawned on CPU)
that outlive a parent killed with SIGKILL, holding gigabytes of RAM, and the
shared-memory segments and semaphores they hold (``/dev/shm/psm_*``,
``/dev/shm/sem.*``) stay behind. :class:`Reaper` guards one engine:

* every process started inside ``with reaper.marking():`` carries an
  environment variable naming its owner (pid and start time), and so does
  everything they start in turn (spawned processes inherit the environment);
* a process forked directly by the owner in that window gets
  ``PR_SET_PDEATHSIG`` (SIGKILL when the owner dies);
* a small watchdog process, started before the first child, waits for the
  owner to die. It then stops every process carrying the mark or descending
  from the owner (as recorded while it lived), notes the ``/dev/shm`` entries
  they map, kills them and removes those entries.

The watchdog is itself started outside the mark, in its own session, and is
told to stop (without cleaning anything) when the engine closes normally.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

OWNER_ENV = "EMOPILLARS_ENGINE_OWNER"
PR_SET_PDEATHSIG = 1

# The watchdog's program: argv = owner pid, owner start time, mark. It imports only psutil (a vLLM dependency).
_WATCHDOG = r"""
import os, select, sys, time
import psutil

owner, owner_started, mark = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
me = os.getpid()
SCAN_S = 0.5


def owner_alive():
    try:
        p = psutil.Process(owner)
        return abs(p.create_time() - owner_started) < 1e-2 and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def shm_mapped(pid):
    found = set()
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                i = line.find("/dev/shm/")
                if i >= 0 and not line.rstrip().endswith("(deleted)"):
                    found.add(line[i:].rstrip())
    except OSError:
        pass
    return found


def marked():
    out = []
    for p in psutil.process_iter():
        if p.pid in (me, owner):
            continue
        try:
            if p.environ().get("EMOPILLARS_ENGINE_OWNER") == mark:
                out.append(p)
        except psutil.Error:
            pass
    return out


known = {}   # pid -> create_time of the owner's descendants seen while it lived
shm = set()
try:
    pidfd = os.pidfd_open(owner)
except (AttributeError, OSError):
    pidfd = None
poller = None
if pidfd is not None:
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
while owner_alive():
    try:
        tree = psutil.Process(owner).children(recursive=True)
    except psutil.Error:
        tree = []
    for p in tree:
        if p.pid == me:
            continue
        try:
            known.setdefault(p.pid, p.create_time())
        except psutil.Error:
            continue
        shm |= shm_mapped(p.pid)
    shm |= shm_mapped(owner)
    if poller is not None:
        poller.poll(SCAN_S * 1000)
    else:
        time.sleep(SCAN_S)

# The owner is gone: freeze what it left (so nothing starts more), gather, then kill.
stopped = {}
for _ in range(20):
    found = {p.pid: p for p in marked()}
    for pid, created in known.items():
        try:
            p = psutil.Process(pid)
            if abs(p.create_time() - created) < 1e-2:
                found.setdefault(pid, p)
        except psutil.Error:
            pass
    for p in list(found.values()):
        try:
            for c in p.children(recursive=True):
                if c.pid != me:
                    found.setdefault(c.pid, c)
        except psutil.Error:
            pass
    new = [p for pid, p in found.items() if pid not in stopped]
    if not new:
        break
    for p in new:
        try:
            p.suspend()
        except psutil.Error:
            pass
        stopped[p.pid] = p
for pid, p in stopped.items():
    shm |= shm_mapped(pid)
    try:
        p.kill()
    except psutil.Error:
        pass
psutil.wait_procs(list(stopped.values()), timeout=30)
pids = set(stopped) | set(known) | {owner}
try:
    names = os.listdir("/dev/shm")
except OSError:
    names = []
for name in names:  # loky names its semaphores after the pid that made them
    if name.startswith("sem.loky-") and name.split("-")[1].isdigit() and int(name.split("-")[1]) in pids:
        shm.add("/dev/shm/" + name)
for path in shm:
    try:
        os.unlink(path)
    except OSError:
        pass
"""


def die_with_parent() -> None:
    """``PR_SET_PDEATHSIG``: the kernel kills this process when the thread that made it exits (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


_fork_hook_installed = False
_fork_from_main_thread = False


def _before_fork() -> None:
    global _fork_from_main_thread
    _fork_from_main_thread = threading.current_thread() is threading.main_thread()


def _after_fork_in_child() -> None:
    # Only a fork made by the main thread inside the mark: the death signal follows the forking thread, and
    # a helper thread that ends would otherwise take its child with it.
    if _fork_from_main_thread and os.environ.get(OWNER_ENV):
        die_with_parent()


class Reaper:
    """Guards the child processes started inside :meth:`marking` (see the module's docstring)."""

    def __init__(self) -> None:
        import psutil

        me = psutil.Process()
        self.mark = f"{me.pid}:{me.create_time():.3f}"
        env = {k: v for k, v in os.environ.items() if k != OWNER_ENV}
        self._watchdog: Optional[subprocess.Popen] = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(me.pid), repr(me.create_time()), self.mark],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )
        global _fork_hook_installed
        if not _fork_hook_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
            _fork_hook_installed = True

    @contextmanager
    def marking(self) -> Iterator[None]:
        """Every process started in this block (and all they start) carries the mark."""
        previous = os.environ.get(OWNER_ENV)
        os.environ[OWNER_ENV] = self.mark
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(OWNER_ENV, None)
            else:
                os.environ[OWNER_ENV] = previous

    def close(self) -> None:
        """The engine shut down normally: stop the watchdog without it touching anything."""
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog.poll() is None:
            watchdog.terminate()
            try:
                watchdog.wait(10)
            except subprocess.TimeoutExpired:
                watchdog.kill()
