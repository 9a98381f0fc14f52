"""Where a payment's time goes at 20 a second: the consumer sampled by py-spy, summarised.

Run with ``.venv/bin/python bench/profile_payments.py``. It runs ``bench/e2e_payments.py`` at
one rate (``--rate``, 20 payments a second, ``--count`` 400: 20 s of payments) and, once the
invoices are synced and payments flow, attaches ``py-spy`` (a sampling profiler: nothing in the
services changes) to the reconciler consumer for ``--seconds``. It prints the benchmark's own
report, the CPU each process used meanwhile, and the share of the consumer's samples spent in
each part of the handling: the functions of the connector (and SQLite's lock wait) that most
samples pass through. py-spy counts a thread only while it is not idle, so a thread blocked in
a C call (SQLite waiting for its write lock, a socket read) still counts: that is the point,
these are where a message waits.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
PY_SPY = ROOT / ".venv" / "bin" / "py-spy"
# Frames worth naming: the connector's code, SQLAlchemy's session, SQLite's BEGIN hook.
OURS = ("reconciler/", "mlconnector/", "sqlalchemy/orm/session.py")


def processes(pattern: str) -> dict[int, str]:
    """pid -> command line of this machine's processes whose command line holds ``pattern``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if pattern in cmdline and "py-spy" not in cmdline:
            found[int(entry.name)] = cmdline.strip()
    return found


def cpu_ticks(pid: int) -> int:
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def summarise(raw: Path, top: int) -> list[str]:
    """The connector's frames by share of samples that pass through them (inclusive)."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        seen = set()
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            if not any(part in where for part in OURS):
                continue
            key = f"{name} ({where.split(':')[0]})"
            if key not in seen:
                seen.add(key)
                inclusive[key] += int(count)
    lines = [f"consumer samples: {total}; share of samples passing through:"]
    for key, count in inclusive.most_common(top):
        lines.append(f"  {count / max(total, 1):6.1%}  {key}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", default="20", help="payments a second (20)")
    parser.add_argument("--count", default="400", help="payments (400)")
    parser.add_argument("--wait", type=float, default=22.0, help="s before sampling (22)")
    parser.add_argument("--seconds", type=int, default=12, help="s of sampling (12)")
    parser.add_argument("--top", type=int, default=30, help="frames shown (30)")
    args = parser.parse_args()
    bench = subprocess.Popen(
        [PYTHON, ROOT / "bench" / "e2e_payments.py", "--rates", args.rate, "--count", args.count],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    time.sleep(args.wait)
    consumers = processes("reconciler consume")
    if not consumers:
        bench.kill()
        print("no reconciler consumer found: did the stack start?", file=sys.stderr)
        return 1
    pid = next(iter(consumers))
    watched = {
        **consumers,
        **processes("stripe_gateway.wsgi"),
        **processes("bc_gateway.wsgi"),
        **processes("e2e_payments.py"),
    }
    before = {p: cpu_ticks(p) for p in watched}
    with tempfile.TemporaryDirectory(prefix="mlc-profile-") as tmp:
        raw = Path(tmp) / "consumer.txt"
        subprocess.run(
            [PY_SPY, "record", "--pid", str(pid), "--duration", str(args.seconds)]
            + ["--rate", "50", "--format", "raw", "--nonblocking", "-o", str(raw)],
            check=True,
            capture_output=True,
        )
        hz = os.sysconf("SC_CLK_TCK")
        usage = []
        for p, cmd in watched.items():
            try:
                used = (cpu_ticks(p) - before[p]) / hz / args.seconds
            except OSError:
                continue
            usage.append(f"  {used:5.2f} cores  {cmd[:90]}")
        profile = summarise(raw, args.top)
    report, _ = bench.communicate()
    print(report)
    print(f"CPU while sampling ({args.seconds} s):")
    print("\n".join(sorted(usage, reverse=True)))
    print("\n".join(profile))
    return bench.returncode


if __name__ == "__main__":
    raise SystemExit(main())
