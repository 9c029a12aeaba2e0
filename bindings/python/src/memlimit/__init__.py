# SPDX-License-Identifier: MIT
"""memlimit: Python bindings for libmemlimit, a soft memory limit for native programs.

Pure Python over ctypes. The library itself must already be in the process: start
Python with it preloaded,

    LD_PRELOAD=/usr/local/lib/libmemlimit.so python3 app.py

(or ``memlimit-run -- python3 app.py``). Every function except available() raises
NotLoadedError when it is not.

    import memlimit

    if memlimit.reached():            # back-pressure: defer work while true
        ...
    with memlimit.on_pressure(evict):  # evict(level, want) -> bytes freed
        run()

Callbacks run on the library's own thread (named "memlimit"), with the GIL taken for
them. See on_pressure() for what they may and may not do.
"""

import atexit
import ctypes
import dataclasses
import enum
import gc
import itertools
import operator
import os
import sys
import threading
import time
import traceback

__all__ = [
    "Level", "Source", "Stats", "Handle", "NotLoadedError", "available", "reached",
    "level", "stats", "set_limit", "on_pressure", "collect_on_pressure",
]
__version__ = "0.1.0"


class Level(enum.IntEnum):
    """How close usage is to the limits (enum memlimit_level)."""

    NONE = 0      #: below 90% of the soft limit
    MODERATE = 1  #: at 90% of the soft limit: the allocator is trimmed
    SOFT = 2      #: at the soft limit, until usage falls below 95% of it
    CRITICAL = 3  #: at the hard limit or 97% of the cgroup limit


class Source(enum.IntEnum):
    """Where the detected limit came from (enum memlimit_source)."""

    NONE = 0
    CGROUP_V1 = 1
    CGROUP_V2 = 2
    MEMTOTAL = 3


@dataclasses.dataclass(frozen=True)
class Stats:
    """struct memlimit_stats. Bytes are ints; a limit of 0 means none."""

    soft_limit: int
    hard_limit: int
    detected_limit: int
    source: Source
    source_path: str
    usage: int
    peak_usage: int
    level: Level
    samples: int
    trims: int
    trimmed_bytes: int
    callback_rounds: int
    callback_calls: int
    callback_bytes: int
    failed_allocs: int


class NotLoadedError(RuntimeError):
    """libmemlimit is not in this process (it must be preloaded)."""


class _CStats(ctypes.Structure):
    _fields_ = [
        ("soft_limit", ctypes.c_int64),
        ("hard_limit", ctypes.c_int64),
        ("detected_limit", ctypes.c_int64),
        ("source", ctypes.c_int),
        ("source_path", ctypes.c_char * 256),
        ("usage", ctypes.c_int64),
        ("peak_usage", ctypes.c_int64),
        ("level", ctypes.c_int),
        ("samples", ctypes.c_uint64),
        ("trims", ctypes.c_uint64),
        ("trimmed_bytes", ctypes.c_uint64),
        ("callback_rounds", ctypes.c_uint64),
        ("callback_calls", ctypes.c_uint64),
        ("callback_bytes", ctypes.c_uint64),
        ("failed_allocs", ctypes.c_uint64),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p)
_SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1
_INT_BITS = 8 * ctypes.sizeof(ctypes.c_int)


def _fit(value, bits, what):
    """value as an int that fits a signed C integer of bits bits, else OverflowError:
    ctypes converts without a check and would wrap it silently (2**64 -> 0)."""
    value = operator.index(value)
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise OverflowError("%s %d does not fit the C API's %d-bit signed integer [%d, %d]"
                            % (what, value, bits, -(1 << (bits - 1)), (1 << (bits - 1)) - 1))
    return value


def _load():
    """The library's functions from the global scope (LD_PRELOAD, or linked into the
    executable), or None. Never loads it: dlopen'ed this late, it would see none of
    the allocations made so far, nor most of those to come."""
    try:
        lib = ctypes.CDLL(None, use_errno=True)  # dlsym(RTLD_DEFAULT, ...)
        lib.memlimit_level
    except (OSError, AttributeError):
        return None
    # CDLL releases the GIL around every call: nothing of the library ever runs with
    # the GIL held, so nothing in it can wait for a Python callback that needs it.
    for name, res, args in (
        ("memlimit_reached", ctypes.c_bool, []),
        ("memlimit_level", ctypes.c_int, []),
        ("memlimit_set_limit", ctypes.c_int64, [ctypes.c_int64]),
        ("memlimit_stats", ctypes.c_int, [ctypes.POINTER(_CStats)]),
        ("memlimit_register", ctypes.c_int, [_CALLBACK, ctypes.c_void_p, ctypes.c_int]),
        ("memlimit_unregister", ctypes.c_int, [ctypes.c_int]),
    ):
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


_lib = _load()


def _preload_hint():
    for p in ("/usr/local/lib/libmemlimit.so", "/usr/lib/x86_64-linux-gnu/libmemlimit.so.0",
              "/usr/lib64/libmemlimit.so.0", "/usr/lib/libmemlimit.so.0"):
        if os.path.exists(p):
            return p
    return "/path/to/libmemlimit.so"


def _not_loaded():
    exe = os.path.basename(sys.executable or "python3")
    return NotLoadedError(
        "libmemlimit is not loaded in this process; start Python with it preloaded: "
        "LD_PRELOAD=%s %s ... (or: memlimit-run -- %s ...)" % (_preload_hint(), exe, exe))


def _need():
    if _lib is None:
        raise _not_loaded()
    return _lib


def _os_error(what):
    e = ctypes.get_errno()
    return OSError(e, "%s: %s" % (what, os.strerror(e)))


def available():
    """True when libmemlimit is loaded in this process (preloaded or linked)."""
    return _lib is not None


def reached():
    """True from the moment usage reaches the soft limit until it falls below 95% of
    it, like go-rtml's IsMemLimitReached(). Cheap enough to call per request."""
    if _lib is None:
        raise _not_loaded()
    return _lib.memlimit_reached()


def level():
    """The current Level."""
    if _lib is None:
        raise _not_loaded()
    return Level(_lib.memlimit_level())


def set_limit(nbytes):
    """Sets the soft limit in bytes, like Go's debug.SetMemoryLimit; 0 turns it off,
    a negative value only queries. Returns the previous soft limit (0 if none).

    Every int in the range of C's int64_t is valid (memlimit_set_limit takes them
    all); one outside it raises OverflowError and changes nothing, a non-integer
    TypeError."""
    lib = _need()
    return lib.memlimit_set_limit(_fit(nbytes, 64, "soft limit"))


def stats():
    """A Stats snapshot: limits and their source, usage, peak, counts."""
    lib = _need()
    c = _CStats()
    if lib.memlimit_stats(ctypes.byref(c)) != 0:
        raise _os_error("memlimit_stats")
    return Stats(
        soft_limit=c.soft_limit, hard_limit=c.hard_limit, detected_limit=c.detected_limit,
        source=Source(c.source), source_path=os.fsdecode(c.source_path), usage=c.usage,
        peak_usage=c.peak_usage, level=Level(c.level), samples=c.samples, trims=c.trims,
        trimmed_bytes=c.trimmed_bytes, callback_rounds=c.callback_rounds,
        callback_calls=c.callback_calls, callback_bytes=c.callback_bytes,
        failed_allocs=c.failed_allocs)


# ---- callbacks ----

_handles = {}              # key (the C callback's arg) -> Handle, while registered
_swap = threading.Lock()   # Handle._id's swap in unregister()
_keys = itertools.count(1)
_exiting = False


class Handle:
    """A registered reclaim callback. Unregister with .unregister() or by using the
    handle as a context manager. Dropping the handle does not unregister."""

    def __init__(self, fn, priority):
        self.callback = fn
        self.priority = priority
        self.calls = 0       #: times the callback was called
        self.errors = 0      #: exceptions it raised (only the first is printed)
        self._key = next(_keys)
        self._id = 0         # the C handle, > 0 until unregister() starts
        self._done = threading.Event()  # set once unregistered
        self._runner = None  # the thread calling the callback, while it runs

    @property
    def registered(self):
        return self._id > 0

    def unregister(self):
        """Once this returns the callback is not running and never runs again (from
        inside the callback itself: it is not called again). Calling it again, or
        from several threads, is safe: the others wait for the first."""
        with _swap:
            h, self._id = self._id, 0
        if h <= 0:
            if self._runner != threading.get_ident():  # not from inside the callback
                self._done.wait()
            return
        try:
            # the GIL is released here (CDLL): a call in progress can finish
            if _lib.memlimit_unregister(h) != 0:
                raise _os_error("memlimit_unregister")
            _handles.pop(self._key, None)
        finally:
            self._done.set()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.unregister()
        return False

    def __repr__(self):
        return "<memlimit.Handle %r priority=%d %s, %d calls>" % (
            self.callback, self.priority, "registered" if self.registered else "unregistered",
            self.calls)

    def _call(self, lv, want):
        self.calls += 1
        self._runner = threading.get_ident()
        try:
            freed = self.callback(Level(lv), want)
            if freed is None:
                return 0
            freed = operator.index(freed)
        except BaseException:  # noqa: B902 -- nothing may escape into the C thread
            self.errors += 1
            if self.errors == 1:
                _report(self, sys.exc_info())
            return 0
        finally:
            self._runner = None
        return 0 if freed < 0 else min(freed, _SIZE_MAX)


def _report(handle, exc_info):
    try:
        sys.stderr.write(
            "memlimit: exception in reclaim callback %r (it stays registered; this is "
            "reported once, later exceptions are only counted in Handle.errors):\n"
            % (handle.callback,))
        traceback.print_exception(*exc_info, file=sys.stderr)
        sys.stderr.flush()
    except Exception:
        pass


def _trampoline(lv, want, key):
    # Runs on the memlimit thread; ctypes took the GIL for us (PyGILState_Ensure).
    h = _handles.get(key)
    if h is None or _exiting:
        return 0
    return h._call(lv, want)


_c_trampoline = _CALLBACK(_trampoline)


def on_pressure(callback, priority=0):
    """Registers callback(level, want) -> bytes freed (an int, or None for 0).

    At MODERATE, want is 0: drop what is cheap to rebuild. At SOFT and CRITICAL, want
    is how many bytes usage is above the target (95% of the soft limit). Callbacks
    with a lower priority run first; priority is a C int (OverflowError outside its
    range). Returns a Handle; use it as a context manager or call .unregister().

    The callback runs on the library's thread with the GIL taken (it waits for the
    GIL like any thread, so the interpreter's switch interval, 5 ms, is added to its
    latency while other threads run Python code). It may allocate, take your locks
    and unregister handles, itself included. An exception is printed once with its
    traceback and the callback returns 0; the thread and the registration survive.
    It must not:
      - wait for something only a thread that is inside unregister() can provide:
        unregister() waits for the running call, so a callback waiting for a lock
        held by the thread unregistering it never returns;
      - wait for an allocating thread that needs the round: with MEMLIMIT_HARD,
        an allocation at the hard limit waits (up to MEMLIMIT_HARD_WAIT) inside
        malloc, holding the GIL, so no Python callback can run for it; it fails
        with MemoryError instead;
      - run for long: the whole round, other libraries' callbacks included, waits.
    """
    lib = _need()
    if not callable(callback):
        raise TypeError("callback must be callable")
    priority = _fit(priority, _INT_BITS, "priority")
    h = Handle(callback, priority)
    _handles[h._key] = h
    hid = lib.memlimit_register(_c_trampoline, h._key, priority)
    if hid < 0:
        del _handles[h._key]
        raise _os_error("memlimit_register")
    h._id = hid
    return h


def _anon_resident():
    try:
        with open("/proc/self/statm", "rb") as f:
            fields = f.read().split()
        return (int(fields[1]) - int(fields[2])) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def collect_on_pressure(priority=-1, min_interval=1.0):
    """Opt-in: runs gc.collect() at SOFT and CRITICAL, at most once per min_interval
    seconds, for programs whose garbage lives in reference cycles (which reference
    counting never frees). Returns the Handle. Collection runs on the memlimit thread,
    so __del__ methods and weakref callbacks of collected objects run there too.
    The default priority, -1, runs it before callbacks of priority 0: collected
    garbage costs nothing to rebuild."""
    state = {"last": None, "collections": 0}

    def collect(lv, want):
        now = time.monotonic()
        if lv < Level.SOFT or (state["last"] is not None and now - state["last"] < min_interval):
            return 0
        state["last"] = now
        before = _anon_resident()
        gc.collect()
        state["collections"] += 1
        return max(0, before - _anon_resident())

    collect.state = state
    return on_pressure(collect, priority)


@atexit.register
def _unregister_all():
    # Before the interpreter finalizes: a callback arriving after that would find
    # no interpreter to run in (and the thread taking the GIL would be stopped).
    global _exiting
    _exiting = True
    for h in list(_handles.values()):
        try:
            h.unregister()
        except OSError:
            pass
