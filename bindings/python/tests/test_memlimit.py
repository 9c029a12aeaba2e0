# SPDX-License-Identifier: MIT
"""Tests of the memlimit package against the real library. Run with it preloaded:

    MEMLIMIT_SCOPE=process LD_PRELOAD=build/libmemlimit.so python3 -m unittest discover -s bindings/python/tests

(scope process: the limits set here are compared with this process's memory, not
with whatever else shares its cgroup). Rounds are provoked by setting a soft limit
below what the process already uses and allocating."""

import ctypes
import gc
import os
import subprocess
import sys
import threading
import time
import unittest

import memlimit

ALLOC = 1 << 20


def churn_until(predicate, timeout=10.0):
    """Allocates and frees 1 MiB blocks (each takes the library's slow path) until
    predicate() is true; returns whether it became true."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        b = bytearray(ALLOC)
        b[::4096] = b"x" * len(b[::4096])
        del b
        time.sleep(0.0005)
    return predicate()


class LowLimit:
    """A soft limit of 1 byte while in the block: every round asks for everything."""

    def __enter__(self):
        self.prev = memlimit.set_limit(1)
        return self

    def __exit__(self, *exc):
        memlimit.set_limit(self.prev)
        churn_until(lambda: not memlimit.reached(), timeout=5)


def run_child(code, preload=True, env_extra=None):
    env = dict(os.environ)
    if not preload:
        env.pop("LD_PRELOAD", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)


@unittest.skipUnless(memlimit.available(), "libmemlimit is not preloaded (LD_PRELOAD)")
class Api(unittest.TestCase):
    def test_types(self):
        self.assertIsInstance(memlimit.reached(), bool)
        self.assertIsInstance(memlimit.level(), memlimit.Level)
        self.assertTrue(issubclass(memlimit.Level, int))
        self.assertEqual([int(x) for x in memlimit.Level], [0, 1, 2, 3])
        s = memlimit.stats()
        self.assertIsInstance(s, memlimit.Stats)
        self.assertIsInstance(s.source, memlimit.Source)
        self.assertIsInstance(s.level, memlimit.Level)
        self.assertIsInstance(s.source_path, str)
        self.assertGreater(s.samples, 0)
        self.assertGreater(s.usage, 0)
        self.assertGreaterEqual(s.peak_usage, s.usage)

    def test_set_limit_round_trip(self):
        prev = memlimit.set_limit(-1)  # only queries
        self.assertEqual(memlimit.set_limit(-1), prev)
        try:
            self.assertEqual(memlimit.set_limit(3 << 30), prev)
            self.assertEqual(memlimit.stats().soft_limit, 3 << 30)
            self.assertEqual(memlimit.set_limit(5 << 30), 3 << 30)
            self.assertEqual(memlimit.set_limit(-1), 5 << 30)
        finally:
            memlimit.set_limit(prev)
        self.assertEqual(memlimit.stats().soft_limit, prev)
        with self.assertRaises(TypeError):
            memlimit.set_limit(1.5)

    def test_set_limit_out_of_range_raises_and_changes_nothing(self):
        # ctypes would wrap these silently: 2**64 to 0 (off), 2**63 to a negative
        # (a query), so the call "succeeded" without doing what was asked
        prev = memlimit.set_limit(-1)
        for v in (2**63, 2**64, 2**64 + 5, 2**100, -2**63 - 1, -2**64):
            with self.assertRaises(OverflowError, msg=str(v)):
                memlimit.set_limit(v)
            self.assertEqual(memlimit.set_limit(-1), prev, "set_limit(%d) changed the limit" % v)
        # the edges of int64_t are accepted: INT64_MIN queries, INT64_MAX sets
        self.assertEqual(memlimit.set_limit(-2**63), prev)
        try:
            self.assertEqual(memlimit.set_limit(2**63 - 1), prev)
            self.assertEqual(memlimit.stats().soft_limit, 2**63 - 1)
        finally:
            memlimit.set_limit(prev)

    def test_priority_out_of_range_raises_and_registers_nothing(self):
        # a C int: ctypes would wrap 2**31 to -2**31, the first to run, not the last
        before = len(memlimit._handles)
        for p in (2**31, -2**31 - 1, 2**64):
            with self.assertRaises(OverflowError, msg=str(p)):
                memlimit.on_pressure(lambda lv, w: 0, p)
            self.assertEqual(len(memlimit._handles), before)
        memlimit.on_pressure(lambda lv, w: 0, 2**31 - 1).unregister()
        memlimit.on_pressure(lambda lv, w: 0, -2**31).unregister()

    def test_reached_and_level_follow_the_limit(self):
        with LowLimit():
            self.assertTrue(churn_until(memlimit.reached))
            self.assertGreaterEqual(memlimit.level(), memlimit.Level.SOFT)
            self.assertGreaterEqual(memlimit.stats().level, memlimit.Level.SOFT)
        self.assertFalse(memlimit.reached())

    def test_callback_runs_on_the_memlimit_thread_with_the_gil(self):
        seen = []
        gil_check = ctypes.pythonapi.PyGILState_Check
        gil_check.restype = ctypes.c_int

        def cb(level, want):
            seen.append((threading.get_ident(), threading.get_native_id(), gil_check(), level,
                         want))
            return 0

        before = memlimit.stats()
        with LowLimit(), memlimit.on_pressure(cb) as h:
            self.assertTrue(h.registered)
            self.assertTrue(churn_until(lambda: len(seen) >= 2))
        self.assertFalse(h.registered)
        ident, tid, gil, level, want = seen[0]
        self.assertNotEqual(ident, threading.get_ident())
        # read now: the library names its thread just after starting it, so a round
        # that runs at once can still see the creator's name
        with open("/proc/self/task/%d/comm" % tid) as f:
            self.assertEqual(f.read().strip(), "memlimit")
        self.assertEqual(gil, 1, "the GIL is not held inside the callback")
        self.assertIsInstance(level, memlimit.Level)
        self.assertGreaterEqual(level, memlimit.Level.SOFT)
        self.assertGreater(want, 0)
        after = memlimit.stats()
        self.assertGreater(after.callback_rounds, before.callback_rounds)
        self.assertGreaterEqual(after.callback_calls - before.callback_calls, len(seen))

    def test_returned_bytes_are_counted(self):
        calls = []

        def cb(level, want):
            calls.append(want)
            return 12345

        before = memlimit.stats().callback_bytes
        with LowLimit(), memlimit.on_pressure(cb):
            self.assertTrue(churn_until(lambda: calls))
        self.assertGreaterEqual(memlimit.stats().callback_bytes - before, 12345)

    def test_priority_order(self):
        order = []
        with LowLimit(), memlimit.on_pressure(lambda lv, w: order.append("late"), 5), \
                memlimit.on_pressure(lambda lv, w: order.append("early"), -5):
            self.assertTrue(churn_until(lambda: len(order) >= 2))
        self.assertEqual(order[:2], ["early", "late"])

    def test_unregister_waits_for_a_running_call(self):
        started, state = threading.Event(), {"done": False, "after": 0}

        def slow(level, want):
            started.set()
            end = time.monotonic() + 0.3
            n = 0
            while time.monotonic() < end:  # Python work: needs the GIL throughout
                n += 1
            state["done"] = True
            return 0

        with LowLimit():
            h = memlimit.on_pressure(slow)
            self.assertTrue(churn_until(started.is_set))
            h.unregister()  # releases the GIL while it waits for slow() to return
            self.assertTrue(state["done"], "unregister returned while the callback ran")
            calls = h.calls
            churn_until(lambda: False, timeout=0.3)
            self.assertEqual(h.calls, calls, "called after unregister")
        h.unregister()  # idempotent

    def test_concurrent_unregister_waits_too(self):
        started, state = threading.Event(), {"done": False}

        def slow(level, want):
            started.set()
            time.sleep(0.3)
            state["done"] = True
            return 0

        early = []

        def unregister():
            h.unregister()
            if not state["done"]:
                early.append(1)

        with LowLimit():
            h = memlimit.on_pressure(slow)
            self.assertTrue(churn_until(started.is_set))
            threads = [threading.Thread(target=unregister) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.assertEqual(early, [], "an unregister() returned while the callback ran")

    def test_a_callback_cannot_wait_for_the_thread_unregistering_it(self):
        # What may not be done inside: wait for a lock held by the thread that is in
        # unregister(). unregister() waits for the call, the call waits for the
        # lock: a deadlock, which the timeout here turns into a failed acquire.
        lock, entered, main_holds = threading.Lock(), threading.Event(), threading.Event()
        got = []

        def cb(level, want):
            if got:
                return 0
            entered.set()
            main_holds.wait(5)
            got.append(lock.acquire(timeout=0.5))
            if got[0]:
                lock.release()
            return 0

        with LowLimit():
            h = memlimit.on_pressure(cb)
            self.assertTrue(churn_until(entered.is_set))
            with lock:
                main_holds.set()
                t0 = time.monotonic()
                h.unregister()
                waited = time.monotonic() - t0
        self.assertEqual(got, [False], "the callback got a lock held by the unregistering thread")
        self.assertGreaterEqual(waited, 0.4, "unregister() did not wait for the call")

    def test_unregister_from_inside_the_callback(self):
        box = {}

        def once(level, want):
            box["h"].unregister()
            return 0

        with LowLimit():
            box["h"] = memlimit.on_pressure(once)
            self.assertTrue(churn_until(lambda: box["h"].calls >= 1))
            churn_until(lambda: False, timeout=0.3)
        self.assertEqual(box["h"].calls, 1)
        self.assertFalse(box["h"].registered)

    def test_gc_helper_collects_cycles_at_soft(self):
        # Garbage held by reference cycles, with the collector off: only the helper
        # frees it. Without it this loop would hold all 256 MiB.
        gc.collect()
        gc.disable()
        base = memlimit._anon_resident()
        prev = memlimit.set_limit(base + (64 << 20))
        top = 0
        h = memlimit.collect_on_pressure(min_interval=0.02)
        try:
            for _ in range(256):
                a, b = [bytearray(ALLOC)], []
                a[0][::4096] = b"y" * len(a[0][::4096])
                a.append(b)
                b.append(a)  # a cycle: reference counting never frees it
                del a, b
                top = max(top, memlimit._anon_resident())
                time.sleep(0.0005)
        finally:
            h.unregister()
            gc.enable()
            memlimit.set_limit(prev)
            gc.collect()
        self.assertGreaterEqual(h.callback.state["collections"], 1)
        self.assertLess(top - base, 160 << 20, "the cycles were not collected")


CHILD_EXCEPTION = r"""
import memlimit
from test_memlimit import churn_until
def bad(level, want):
    raise ValueError("boom from the callback")
good = []
memlimit.set_limit(1)
hb = memlimit.on_pressure(bad, 0)
hg = memlimit.on_pressure(lambda lv, w: good.append(w), 1)
ok = churn_until(lambda: hb.calls >= 3 and len(good) >= 3)
print("ok=%s bad.calls=%d bad.errors=%d good=%d" % (ok, hb.calls, hb.errors, len(good)))
"""


class Children(unittest.TestCase):
    def test_not_loaded_is_a_clear_error(self):
        r = run_child("import memlimit\n"
                      "print('available', memlimit.available())\n"
                      "for f in (memlimit.reached, memlimit.level, memlimit.stats,\n"
                      "          lambda: memlimit.set_limit(1), lambda: memlimit.on_pressure(print)):\n"
                      "    try:\n"
                      "        f()\n"
                      "    except memlimit.NotLoadedError as e:\n"
                      "        print('error', e)\n", preload=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "available False")
        self.assertEqual(len(lines), 6, r.stdout)
        for line in lines[1:]:
            self.assertIn("libmemlimit is not loaded", line)
            self.assertIn("LD_PRELOAD=", line)

    @unittest.skipUnless(memlimit.available(), "libmemlimit is not preloaded (LD_PRELOAD)")
    def test_exception_is_reported_once_and_the_thread_survives(self):
        here = os.path.dirname(os.path.abspath(__file__))
        pkg = os.path.dirname(os.path.dirname(os.path.abspath(memlimit.__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, pkg]))
        r = subprocess.run([sys.executable, "-c", CHILD_EXCEPTION], capture_output=True,
                           text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"ok=True bad\.calls=(\d+) bad\.errors=\1 good=\d+")
        self.assertEqual(r.stderr.count("exception in reclaim callback"), 1, r.stderr)
        self.assertEqual(r.stderr.count("ValueError: boom from the callback"), 1, r.stderr)
        self.assertIn("Traceback", r.stderr)


if __name__ == "__main__":
    unittest.main()
