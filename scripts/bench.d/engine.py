"""Alternating measurement of hound and the tools it is compared with.

Each run executes every contender once; the order flips from run to run
(hound first, then the tools; then the tools first) so neither side
systematically gets the warmer cache or the quieter moment. Every run's
content is kept, and "identical" means identical in every run, not just
the last.
"""

from harness import HarnessError, Stats, debug, fmt_secs, log, run_timed

MISSING = "n/a: primitive missing"


class Contender:
    """One command measured in a task.

    For hound, `argvs` holds candidate invocations (scripts calling the
    primitive in the spellings it may have); the first one that does not
    fail with "function not found" is kept.
    """

    def __init__(self, label, argvs, parse, hound=False, ok_codes=(0,), timeout=600):
        self.label = label
        self.timeout = timeout
        self.argvs = argvs if isinstance(argvs[0], list) else [argvs]
        self.parse = parse
        self.hound = hound
        self.ok_codes = ok_codes
        self.times = []
        self.rss = []
        self.cpu = []
        self.contents = []
        self.error = None  # text: the contender failed; results unusable
        self.missing = False  # hound only: the primitive does not exist yet

    @property
    def argv(self):
        return self.argvs[0]

    @property
    def usable(self):
        return not self.error and not self.missing

    def stats(self):
        return Stats(self.times)

    def peak_rss(self):
        return max(self.rss) if self.rss else None

    def once(self, keep):
        """One run; `keep` False for the untimed warm-up."""
        while True:
            res = run_timed(self.argv, timeout=self.timeout, ok_codes=self.ok_codes)
            if res.ok():
                break
            if self.hound and len(self.argvs) > 1:
                # Another spelling of the call may be the one this build
                # accepts (an option name, an overload); try it.
                debug(f"{self.label}: {res.stderr.strip()[:300]}")
                self.argvs.pop(0)
                continue
            if self.hound and "function not found" in res.stderr:
                self.missing = True
                return
            self.error = res.describe_failure()
            return
        try:
            content = self.parse(res.stdout)
        except Exception as e:  # a parse failure is a harness or shape problem: say which
            self.error = f"could not read its output: {e}"
            return
        if keep:
            self.times.append(res.seconds)
            if res.rss_kib is not None:
                self.rss.append(res.rss_kib)
            if res.cpu_s is not None:
                self.cpu.append(res.cpu_s)
            self.contents.append(content)
        return res


def measure(name, contenders, runs, warmup, before_each=None):
    for c in contenders:
        if warmup:
            if before_each:
                before_each()
            c.once(keep=False)
    for i in range(runs):
        order = contenders if i % 2 == 0 else list(reversed(contenders))
        line = []
        for c in order:
            if not c.usable:
                continue
            if before_each:
                before_each()
            res = c.once(keep=True)
            if res:
                line.append(f"{c.label} {fmt_secs(res.seconds)}")
            else:
                line.append(f"{c.label} {'n/a' if c.missing else 'FAILED'}")
        log(f"  [{name}] run {i + 1}/{runs}: " + ", ".join(line))
    for c in contenders:
        if c.missing:
            log(f"  [{name}] {c.label}: {MISSING}")
        elif c.error:
            log(f"  [{name}] {c.label}: FAILED: {c.error}")


class Row:
    """One line of the report: hound against one reference tool."""

    def __init__(self, task, hound, ref, compare, goal, note=""):
        self.task = task
        self.hound = hound
        self.ref = ref
        self.note = note
        self.diffs = []
        self.identical = None
        self.failure = None  # harness-level failure text
        if hound.missing:
            self.status = MISSING
        elif hound.error:
            self.failure = f"hound failed: {hound.error}"
        if ref is not None and ref.error:
            self.failure = f"{ref.label} failed: {ref.error}"
        if hound.usable and ref is not None and ref.usable:
            self.identical, self.diffs = consistent(hound, ref, compare)
        elif hound.usable and ref is None:
            self.identical, self.diffs = consistent(hound, None, compare)
        elif ref is not None and ref.usable:
            # Without hound, the reference is still checked against the
            # fixture (the comparisons also check each side against the truth):
            # a wrong fixture must show before hound's results depend on it.
            _, self.diffs = consistent(ref, None, compare)
            self.diffs += compare(ref.contents[0], ref.contents[0], ref.label, ref.label)
            if self.diffs:
                self.failure = f"{ref.label}'s results do not match the fixture"
        self.goal_text, self.goal_met = goal(self) if hound.usable else ("", None)

    def ratio(self):
        """How many times faster hound is (reference median / hound median)."""
        if self.ref is None or not self.hound.times or not self.ref.times:
            return None
        return self.ref.stats().median / self.hound.stats().median

    def failed(self):
        return bool(self.failure) or self.identical is False


def consistent(hound, ref, compare):
    """Compares hound's first run with the reference's first run, and each
    side's later runs with its first: a result that changes between runs is
    a difference too. `compare(a, b, a_label, b_label)` returns texts.
    Returns (identical, list of difference texts)."""
    diffs = []
    sides = [hound] + ([ref] if ref is not None else [])
    for side in sides:
        for i, c in enumerate(side.contents[1:], 2):
            diffs += [
                f"{side.label} is not stable across runs: {d}"
                for d in compare(side.contents[0], c, f"{side.label} run 1", f"{side.label} run {i}")
            ]
    if ref is not None:
        diffs += compare(hound.contents[0], ref.contents[0], hound.label, ref.label)
    return not diffs, diffs


def set_diff(what, a, b, a_label, b_label, limit=10):
    """Texts naming what only one side found."""
    out = []
    only_a = sorted(a - b, key=str)
    only_b = sorted(b - a, key=str)
    if only_a:
        out.append(f"{len(only_a)} {what} only {a_label} found: {_sample(only_a, limit)}")
    if only_b:
        out.append(f"{len(only_b)} {what} only {b_label} found: {_sample(only_b, limit)}")
    return out


def _sample(items, limit):
    s = ", ".join(str(x) for x in items[:limit])
    return s + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def require(cond, msg):
    if not cond:
        raise HarnessError(msg)
