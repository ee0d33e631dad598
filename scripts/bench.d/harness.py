"""Running, timing and cleaning up: everything the tasks share.

Timing is wall clock around fork+exec+wait of the measured command, the same
way for hound and for the tool it is compared with. Peak memory comes from the
kernel (wait4's ru_maxrss), not from sampling, so a short spike is not missed.
"""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

VERBOSE = False


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def debug(msg):
    if VERBOSE:
        log("  . " + msg)


class Result:
    """One run of one command."""

    def __init__(self, argv, seconds, rss_kib, cpu_s, rc, stdout, stderr, timed_out):
        self.argv = argv
        self.seconds = seconds
        self.rss_kib = rss_kib
        self.cpu_s = cpu_s  # user + system, from GNU time
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    def ok(self):
        return self.rc == 0 and not self.timed_out

    def describe_failure(self):
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        tail = self.stderr.strip().splitlines()[-3:]
        return f"exit {self.rc}: " + " | ".join(tail)


GNU_TIME = "/usr/bin/time"


def run_timed(argv, timeout=600, ok_codes=(0,)):
    """Runs argv to completion; returns a Result with wall time and peak RSS.

    Peak RSS goes through GNU time (`/usr/bin/time -f %M`), not wait4 from
    here: a child forked from this Python process carries Python's resident
    pages into its own high-water mark until it execs (the kernel keeps the
    larger value across exec), which made `find` look like a 17 MiB program.
    GNU time is a small C program, so what it reports is the command's own.
    Its fork adds the same fraction of a millisecond to both sides.

    stdout goes to an unlinked temp file rather than a pipe: a pipe would need
    a reader thread competing for the CPU with the process being timed, and a
    100,000-line output would block the child otherwise.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(prefix="hbench-rss-") as rss:
        wrapped = [GNU_TIME, "-q", "-f", "%M %U %S", "-o", rss.name, "--"] + list(argv)
        t0 = time.perf_counter()
        # Its own process group, so a timeout or Ctrl-C kills the command
        # and anything it started, not just GNU time.
        p = subprocess.Popen(wrapped, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             process_group=0)
        timed_out = threading.Event()

        def kill():
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        def on_timeout():
            timed_out.set()
            kill()

        timer = threading.Timer(timeout, on_timeout)
        timer.start()
        try:
            p.wait()
        except BaseException:  # Ctrl-C: the measured command must not linger
            kill()
            p.wait()
            raise
        finally:
            timer.cancel()
        t1 = time.perf_counter()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "surrogateescape")
        stderr = err.read().decode("utf-8", "surrogateescape")
        with open(rss.name) as f:
            last = (f.read().strip().splitlines() or [""])[-1].split()
    try:
        rss_kib, cpu_s = int(last[0]), float(last[1]) + float(last[2])
    except (IndexError, ValueError):  # killed before GNU time could write
        rss_kib, cpu_s = None, None
    rc = 0 if p.returncode in ok_codes else p.returncode
    return Result(argv, t1 - t0, rss_kib, cpu_s, rc, stdout, stderr, timed_out.is_set())


def check(argv, **kw):
    """Runs a setup command; a failure stops the task with its stderr."""
    debug(" ".join(argv))
    if "input" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise HarnessError(f"{' '.join(argv)}: {p.stderr.strip() or p.returncode}")
    return p.stdout


class HarnessError(Exception):
    """The benchmark itself could not do its work (setup, a tool failing)."""


class Stats:
    def __init__(self, samples):
        self.samples = sorted(samples)

    def __bool__(self):
        return bool(self.samples)

    @property
    def median(self):
        return statistics.median(self.samples)

    def text(self):
        """'1.23 s [1.20–1.31]': median, then min–max over the runs."""
        if not self.samples:
            return "—"
        m = fmt_secs(self.median)
        if len(self.samples) == 1:
            return f"{m} (1 run)"
        return f"{m} [{fmt_secs(self.samples[0], unit=False)}–{fmt_secs(self.samples[-1])}]"


def fmt_secs(s, unit=True):
    if s < 1:
        v, u = f"{s * 1000:.1f}", "ms"
    else:
        v, u = f"{s:.2f}", "s"
    return f"{v} {u}" if unit else v


def fmt_secs_pair(lo, hi):
    return f"{fmt_secs(lo)}–{fmt_secs(hi)}"


def fmt_kib(k):
    if k is None:
        return "—"
    return f"{k / 1024:.1f} MiB"


class Cleanup:
    """Everything the run created, undone in reverse order at exit.

    Registered on creation, before the thing is used, so a failure half-way
    through a setup still tears down what exists.
    """

    def __init__(self):
        self._undo = []

    def add(self, what, fn):
        self._undo.append((what, fn))

    def tempdir(self, what):
        # The pid in the name lets a later run remove it if this one is
        # killed with SIGKILL (lab.remove_stale).
        d = tempfile.mkdtemp(prefix=f"hbench-{os.getpid():x}-{what}-")
        self.add(f"rm -r {d}", lambda: shutil.rmtree(d, ignore_errors=True))
        return d

    def process(self, p, what):
        def stop():
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)

        self.add(f"stop {what}", stop)
        return p

    def run_all(self):
        while self._undo:
            what, fn = self._undo.pop()
            try:
                fn()
            except Exception as e:  # keep going: the rest must still be undone
                log(f"bench: cleanup {what}: {e}")


def install_signal_handlers():
    """SIGINT (also when inherited as ignored), SIGTERM and SIGHUP unwind as
    KeyboardInterrupt, so `finally` blocks clean up."""

    def raise_interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, raise_interrupt)
