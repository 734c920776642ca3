"""Load: 20 sessions at once against ``tapegrad playground`` on a loopback port. Every one trains,
the server answers while they do, and its memory (server, fork server and workers together)
returns near where it started once they close."""

import os
import threading
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from playground_helpers import Server  # noqa: E402

SESSIONS = 20
pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads memory from Linux's /proc")


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    parents[int(name)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, todo = set(), [pid]
    while todo:
        p = todo.pop()
        tree.add(p)
        todo += [c for c, pp in parents.items() if pp == p and c not in tree]
    total = 0
    for p in tree:
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) * 1024
        except (OSError, StopIteration):
            pass
    return total


def one_session(server, results, i):
    try:
        code, s = server.request("POST", "/api/sessions", {"config": {"epochs": 15, "speed": 0, "seed": i}})
        assert code == 201, s
        sid = s["session"]
        deadline = time.monotonic() + 90
        while server.get(f"/api/sessions/{sid}")[1]["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        code, _ = server.request("POST", f"/api/sessions/{sid}/start")
        assert code == 202
        while (s := server.get(f"/api/sessions/{sid}")[1])["status"] != "done":
            assert s["status"] in ("running", "paused", "ready"), s
            assert time.monotonic() < deadline, "training did not finish in time"
            time.sleep(0.2)
        results[i] = (s["initial"]["loss"], s["history"]["loss"])
        assert server.request("DELETE", f"/api/sessions/{sid}")[0] == 204
    except Exception as exc:  # reported by the test
        results[i] = exc


def wait_idle(server, timeout=20):
    deadline = time.monotonic() + timeout
    while (st := server.get("/api/stats")[1])["workers"] or st["sessions"]:
        assert time.monotonic() < deadline, st
        time.sleep(0.2)
    time.sleep(1.0)  # workers already reaped: let the fork server collect them


def test_twenty_sessions_at_once():
    with Server("--max-trainings", str(SESSIONS)) as server:
        warm = {}
        one_session(server, warm, 0)  # starts the fork server and loads everything once
        assert not isinstance(warm[0], Exception), warm[0]
        wait_idle(server)
        before = tree_rss(server.proc.pid)

        results = {}
        threads = [threading.Thread(target=one_session, args=(server, results, i)) for i in range(SESSIONS)]
        for t in threads:
            t.start()
        peak, slowest = 0, 0.0
        while any(t.is_alive() for t in threads):
            t0 = time.monotonic()
            assert server.get("/api/options")[0] == 200  # the server answers while they train
            slowest = max(slowest, time.monotonic() - t0)
            peak = max(peak, tree_rss(server.proc.pid))
            time.sleep(0.3)
        for t in threads:
            t.join()
        failures = {i: r for i, r in results.items() if isinstance(r, Exception)}
        assert not failures, failures
        assert len(results) == SESSIONS
        for initial, losses in results.values():  # every one trained
            assert len(losses) == 15 and losses[-1] < initial
        assert slowest < 5.0
        wait_idle(server)
        after = tree_rss(server.proc.pid)
    mb = 1 << 20
    print(f"memory: {before / mb:.0f} MiB before, peak {peak / mb:.0f} MiB, {after / mb:.0f} MiB after; "
          f"slowest answer while training {slowest:.2f} s")
    assert peak > before  # the workers were there ...
    assert after < before + 30 * mb  # ... and their memory went back
