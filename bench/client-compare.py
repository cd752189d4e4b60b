#!/usr/bin/env python3
"""Side-by-side HTTP *client* benchmark: one server that costs almost nothing
(bench/floor/http-floor.c, on CPU 0), and each client in turn on CPU 1, round after
round, so a ratio holds even when the machine's speed drifts. Every client is a load
program with the same command line and report (examples/http-load.rs and its peers):
`URL --conns C --secs S`, printing `requests N`, `req/s X`, `errors E`.

usage: client-compare.py [--rounds N (5)] [--secs S (5)] [--conns C (50)] [--no-pin]
                         NAME=COMMAND [NAME=COMMAND ...]
  COMMAND is a shell command line; {url}, {conns} and {secs} in it are replaced. The
  first NAME is the one the others are compared to.

Measured for each client and round:
  req/s      the client's own count over its own run time
  cpu/req    user+system CPU of the client process (all its threads, from wait4's
             rusage, start-up and connecting included) over the requests it made
  client cpu that CPU over the run's wall time (100% of one CPU: the client is the limit)
  conns      connections the floor accepted during the run (SIGUSR1 makes it say how
             many): C when the client kept every connection alive
  server cpu the floor's CPU over the run's wall time: far below 100% when the server
             is not the bottleneck
Prints medians as `name value unit` lines (NAME_req_per_s, NAME_cpu_per_req, and for
the others NAME_req_per_s_over_FIRST and NAME_cpu_per_req_over_FIRST, medians of the
per-round ratios), then a table (conns: the most in any round; errors: all rounds'),
then the first client's req/s over each other's and which used the least CPU per
request. Exits 1 if a client failed, reported errors, or made no requests.
Peers are built by bench/build-peers.sh into $GMP_PEERS (default /tmp/gmp-peers).
"""
import os, re, signal, statistics, subprocess, sys, tempfile, threading, time

sys.dont_write_bytecode = True  # no bench/__pycache__ from importing compare.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import PEERS, cpu_seconds, free_port, stop, wait_listening  # noqa: E402


class Floor:
    """bench/floor/http-floor.c on a free port, asked for its accepted-connection count."""

    def __init__(self, pin):
        self.port = free_port()
        pre = ["taskset", "-c", "0"] if pin else []
        self.proc = subprocess.Popen(pre + [f"{PEERS}/http-floor", f"127.0.0.1:{self.port}"],
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)
        wait_listening(self.port, self.proc)

    def accepted(self):
        self.proc.send_signal(signal.SIGUSR1)
        line = self.proc.stdout.readline()
        m = re.match(r"accepted (\d+)", line)
        if not m:
            raise SystemExit(f"http-floor did not report its connections (said {line!r}); "
                             "rebuild it with bench/build-peers.sh")
        return int(m.group(1))


def run_client(line, secs):
    """Runs one client to its end; returns (its stdout, its stderr, exit code, CPU s)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        # `exec` all the way down (bash, taskset, env), so the pid waited for is the client's.
        p = subprocess.Popen(["bash", "-c", f"exec {line}"], stdout=out, stderr=err,
                             start_new_session=True)
        # A client that hangs is killed well after its run should have ended.
        guard = threading.Timer(secs + 60, lambda: os.killpg(p.pid, signal.SIGKILL))
        guard.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            guard.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return out.read(), err.read(), p.returncode, ru.ru_utime + ru.ru_stime


def field(text, name):
    m = re.search(rf"^{re.escape(name)} ([\d.]+)$", text, re.M)
    return float(m.group(1)) if m else None


def main():
    argv = sys.argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return
    opts = {"rounds": 5, "secs": 5.0, "conns": 50}
    pin = True
    clients = []
    while argv:
        a = argv.pop(0)
        if a == "--no-pin":
            pin = False
        elif a.startswith("--"):
            if a[2:] not in opts or not argv:
                raise SystemExit(f"client-compare: unknown option {a} (see --help)")
            opts[a[2:]] = type(opts[a[2:]])(argv.pop(0))
        else:
            name, _, cmd = a.partition("=")
            if not cmd:
                raise SystemExit(f"client-compare: {a!r} is not NAME=COMMAND")
            clients.append((name, cmd))
    if not clients:
        raise SystemExit("name at least one NAME=COMMAND")
    secs = opts["secs"]
    floor = Floor(pin)
    names = [n for n, _ in clients]
    rows = {n: {k: [] for k in ("rps", "cpu", "client", "conns", "server", "errors")} for n in names}
    failed = []
    try:
        url = f"http://127.0.0.1:{floor.port}/plaintext"
        for r in range(opts["rounds"]):
            for name, cmd in clients:
                line = cmd.format(url=url, conns=opts["conns"], secs=f"{secs:g}")
                if pin:
                    line = f"taskset -c 1 {line}"
                a0, s0, t0 = floor.accepted(), cpu_seconds(floor.proc.pid), time.monotonic()
                out, err, code, cpu = run_client(line, secs)
                wall = time.monotonic() - t0
                a1, s1 = floor.accepted(), cpu_seconds(floor.proc.pid)
                requests, rps, errors = (field(out, k) for k in ("requests", "req/s", "errors"))
                if code != 0 or rps is None or not requests or errors is None:
                    failed.append(f"{name} (round {r + 1}): exit {code}, output {out.strip()!r}, "
                                  f"stderr {err.strip()[-300:]!r}")
                    requests, rps, errors = requests or 0, rps or 0.0, errors or 0
                elif errors:
                    failed.append(f"{name} (round {r + 1}): {errors:.0f} errors: {err.strip()[-300:]}")
                row = rows[name]
                row["rps"].append(rps)
                row["cpu"].append(1e6 * cpu / requests if requests else float("nan"))
                row["client"].append(100 * cpu / wall)
                row["conns"].append(a1 - a0)
                row["server"].append(100 * (s1 - s0) / wall)
                row["errors"].append(errors)
            print(f"round {r + 1}: " + "  ".join(
                f"{n} {rows[n]['rps'][-1]:.0f} req/s {rows[n]['cpu'][-1]:.2f} us/req" for n in names),
                flush=True)
    finally:
        stop(floor.proc)

    base = names[0]
    med = {n: {k: statistics.median(v) for k, v in rows[n].items()} for n in names}

    def ratio(n, k):
        """The median of this / base over the rounds (a drift cancels within a round)."""
        rs = [a / b for a, b in zip(rows[n][k], rows[base][k]) if b]
        return statistics.median(rs) if rs else float("nan")

    print(f"\n{len(names)} clients x {opts['rounds']} rounds of {secs:g} s, {opts['conns']} "
          f"requesters each, keep-alive GETs to http-floor; "
          f"{'floor on CPU 0, client on CPU 1' if pin else 'unpinned'}; medians; "
          f"ratio = this / {base}, the median of per-round ratios")
    for n in names:
        print(f"{n}_req_per_s {med[n]['rps']:.0f} req/s")
        print(f"{n}_cpu_per_req {med[n]['cpu']:.2f} us")
        if n != base:
            print(f"{n}_req_per_s_over_{base} {ratio(n, 'rps'):.3f} ratio")
            print(f"{n}_cpu_per_req_over_{base} {ratio(n, 'cpu'):.3f} ratio")
    print()
    print(f"{'client':<10} {'req/s':>10} {'ratio':>7} {'cpu/req':>10} {'ratio':>7} "
          f"{'client cpu':>10} {'conns':>6} {'server cpu':>10} {'errors':>7}")
    for n in names:
        m = med[n]
        conns = max(rows[n]["conns"])
        note = "  (redialled: more connections than requesters)" if conns > opts["conns"] else ""
        print(f"{n:<10} {m['rps']:>10.0f} {ratio(n, 'rps'):>7.3f} {m['cpu']:>7.2f} us "
              f"{ratio(n, 'cpu'):>7.3f} {m['client']:>9.0f}% {conns:>6} {m['server']:>9.0f}% "
              f"{sum(rows[n]['errors']):>7.0f}{note}")
    others = names[1:]
    if others:
        print(f"\n{base} req/s over each: " + ", ".join(
            f"{n} {1 / ratio(n, 'rps'):.2f}x" for n in others if ratio(n, "rps")))
        measured = [n for n in names if med[n]["cpu"] == med[n]["cpu"]]  # not NaN
        if measured:
            lowest = min(measured, key=lambda n: med[n]["cpu"])
            print(f"lowest cpu/req: {lowest} ({med[lowest]['cpu']:.2f} us)")
    if failed:
        print("\nclient-compare: failures:\n  " + "\n  ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
