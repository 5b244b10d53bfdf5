#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge a kvm-coco-mig QEMU test run, failing closed.

Reads the result channel written by init.sh (ttyS1) and the kernel console
(ttyS0). A run passes only if:
  - the guest wrote KCM-SUCCESS (every step ran to its end),
  - every harness step, KUnit case and kselftest passed or was skipped
    (a skip is counted as such, never as a pass),
  - a TAP plan, where present, was met,
  - the console shows no WARNING, BUG, Oops, KASAN, UBSAN, lockdep,
    RCU, hung-task or kmemleak report.

Prints one line per test, then, when something failed, why: each failed
kselftest's last lines, the tests that were running when the console's
first report appeared and the report itself, and what the guest's watchdog
saw (KCM-STALL: a blocked task or the deadline; see watchdog.sh). Then
"results: N passed, N failed, N skipped".
Exit status: 0 when the run passed, 1 otherwise.
"""
import re
import sys

CONSOLE_BAD = re.compile(
    r"WARNING:|BUG:|Oops|KASAN|UBSAN|"
    r"possible recursive locking|possible circular locking|"
    r"inconsistent lock state|lockdep|suspicious RCU usage|"
    r"unreferenced object|suspected memory leak|"
    r"Kernel panic|general protection fault|INFO: task .* blocked|"
    r"rcu: .*(stall|self-detected)|soft lockup|hard LOCKUP|"
    r"Workqueue: .* hogged|list_add corruption|list_del corruption"
)
# Lines that match CONSOLE_BAD but report nothing wrong.
CONSOLE_BENIGN = re.compile(
    r"kmemleak: Kernel memory leak detector initialized|"
    r"kmemleak: Automatic memory scanning thread|"
    r"KernelAddressSanitizer initialized|"
    r"Lock dependency validator|"
    r"lockdep:\s+\[|"
    r"\.\.\. MAX_LOCKDEP|\.\.\. MAX_LOCK_DEPTH|\.\.\. MAX_LOCKDEP_|"
    r"\.\.\. CHAINHASH_SIZE|memory used by lock dependency info|"
    r"memory used for stack traces|per task-struct memory footprint|"
    r"rcu: RCU lockdep checking is enabled"
)
TAP_LINE = re.compile(r"^(\s*)(not ok|ok)\s+(\d+)\s*(?:-\s*)?([^#]*?)\s*(#\s*(.*))?$")
TAP_PLAN = re.compile(r"^(\s*)1\.\.(\d+)(\s*#\s*(SKIP|skip).*)?")


WHY_LINES = 15        # a failed test's last lines shown
REPORT_LINES = 40     # lines of the console's first report shown
INIT_RUNNING = re.compile(r"kcm-init: running (\S+)")
INIT_EXITED = re.compile(r"kcm-init: (\S+) exited with")


class Totals:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.lines = []
        self.why = []
        self.times = []
        self.platform = ""

    def add(self, result, name, why=""):
        if result == "PASS":
            self.passed += 1
        elif result == "SKIP":
            self.skipped += 1
        else:
            self.failed += 1
            result = "FAIL"
        self.lines.append(f"{result} {name}" + (f" ({why})" if why else ""))


def directive_is_skip(directive):
    return bool(directive) and directive.strip().upper().startswith("SKIP")


def judge_kunit(t, suite, body):
    """Count the suite's cases (one indentation level below the suite line)."""
    if not body or any(l.startswith("KCM-MISSING") for l in body):
        t.add("FAIL", f"kunit:{suite}", "no results in debugfs")
        return
    suite_line = None
    for l in body:
        m = TAP_LINE.match(l)
        if m and m.group(1) == "" and m.group(4) == suite:
            suite_line = m
    plan = None
    for l in body:
        p = TAP_PLAN.match(l)
        if p and len(p.group(1)) == 4:
            plan = int(p.group(2))
    cases = 0
    case_failed = False
    for l in body:
        m = TAP_LINE.match(l)
        if not m or len(m.group(1)) != 4:
            continue
        cases += 1
        name = f"kunit:{suite}.{m.group(4)}"
        if m.group(2) == "not ok":
            case_failed = True
            t.add("FAIL", name)
        elif directive_is_skip(m.group(6)):
            t.add("SKIP", name, m.group(6))
        else:
            t.add("PASS", name)
    if suite_line is None:
        t.add("FAIL", f"kunit:{suite}", "no suite result line")
    elif cases == 0:
        t.add("FAIL", f"kunit:{suite}", "no test cases ran")
    elif suite_line.group(2) == "not ok" and not case_failed:
        t.add("FAIL", f"kunit:{suite}", "suite failed")
    if plan is not None and cases != plan:
        t.add("FAIL", f"kunit:{suite}", f"{cases} results for a plan of {plan}")


def judge_kselftest(t, name, body, rc):
    plan = None
    seen = 0
    failed_here = False
    for l in body:
        p = TAP_PLAN.match(l)
        if p and p.group(1) == "":
            plan = int(p.group(2))
            if plan == 0 and p.group(3):
                t.add("SKIP", f"kselftest:{name}", l.split("#", 1)[1].strip())
                seen = -1
            continue
        m = TAP_LINE.match(l)
        if not m or m.group(1) != "":
            continue
        seen += 1
        case = f"kselftest:{name}:{m.group(4) or m.group(3)}"
        if m.group(2) == "not ok":
            failed_here = True
            t.add("FAIL", case)
        elif directive_is_skip(m.group(6)):
            t.add("SKIP", case, m.group(6))
        else:
            t.add("PASS", case)
    if seen < 0:
        if rc != 4:
            t.add("FAIL", f"kselftest:{name}", f"skipped but exit status {rc}")
        return
    if seen == 0:
        # A test that prints no TAP results is judged by its exit status.
        if rc == 0:
            t.add("PASS", f"kselftest:{name}")
        elif rc == 4:
            t.add("SKIP", f"kselftest:{name}", "exit status 4")
        else:
            t.add("FAIL", f"kselftest:{name}", f"exit status {rc}")
        return
    if plan is not None and seen < plan:
        t.add("FAIL", f"kselftest:{name}", f"ran {seen} of {plan} planned tests")
    if rc not in (0, 4) and not failed_here:
        t.add("FAIL", f"kselftest:{name}", f"exit status {rc}")


def main(results_path, console_path):
    t = Totals()
    try:
        with open(results_path, errors="replace") as f:
            lines = [l.rstrip("\r\n") for l in f]
    except OSError as e:
        lines = []
        t.add("FAIL", "harness:results", str(e))

    success = False
    i = 0
    while i < len(lines):
        l = lines[i]
        if l.startswith("KCM-STEP "):
            _, name, rc = l.split(" ", 2)
            t.add("PASS" if rc == "0" else "FAIL", f"harness:{name}",
                  "" if rc == "0" else f"status {rc}")
        elif l.startswith("KCM-KUNIT "):
            suite = l.split(" ", 1)[1]
            body = []
            i += 1
            while i < len(lines) and lines[i] != f"KCM-KUNIT-END {suite}":
                body.append(lines[i])
                i += 1
            judge_kunit(t, suite, body)
        elif l.startswith("KCM-KSELFTEST "):
            name = l.split(" ", 1)[1]
            body = []
            rc = None
            i += 1
            while i < len(lines):
                if lines[i].startswith(f"KCM-EXIT {name} "):
                    status = lines[i].rsplit(" ", 1)[1]
                    rc = int(status) if status.isdigit() else None
                    break
                body.append(lines[i])
                i += 1
            before = t.failed
            if rc is None:
                t.add("FAIL", f"kselftest:{name}", "did not finish")
            else:
                judge_kselftest(t, name, body, rc)
            if t.failed > before:
                tail = [b for b in body if b.strip()][-WHY_LINES:]
                t.why.append(f"kselftest {name} (exit status {rc}), its last lines:")
                t.why.extend("    " + b for b in tail)
        elif l.startswith("KCM-PLATFORM "):
            t.platform = l[len("KCM-PLATFORM "):]
        elif l.startswith("KCM-TIME "):
            t.times.append(" ".join(l.split(" ")[1:3]) + " s")
        elif l.startswith("KCM-STALL"):
            t.add("FAIL", "harness:watchdog", l[len("KCM-STALL"):].strip())
            t.why.append(l)
        elif l.startswith(("KCM-RUNNING", "KCM-BLOCKED", "KCM-KICK", "KCM-TIMERS")):
            t.why.append(l)
            # The running test's last lines follow, indented.
            while i + 1 < len(lines) and lines[i + 1].startswith("#   ") and \
                    l.startswith("KCM-RUNNING"):
                i += 1
                t.why.append("    " + lines[i][4:])
        elif l.startswith("KCM-ABORT"):
            t.add("FAIL", "harness:abort", l[len("KCM-ABORT"):].strip())
        elif l == "KCM-SUCCESS":
            success = True
        i += 1

    if not success:
        t.add("FAIL", "harness:success-marker", "the guest did not finish its run")

    bad = []
    first = None
    running = []
    console = []
    try:
        with open(console_path, errors="replace") as f:
            console = [l.rstrip() for l in f]
    except OSError as e:
        bad.append(f"no console log: {e}")
    now = []
    dump = None     # where the watchdog's own dump (sysrq output) begins
    for n, l in enumerate(console):
        if dump is None and "kcm-watchdog: stall" in l:
            dump = n
        m = INIT_RUNNING.search(l)
        if m:
            now.append(m.group(1))
        m = INIT_EXITED.search(l)
        if m and m.group(1) in now:
            now.remove(m.group(1))
        if CONSOLE_BAD.search(l) and not CONSOLE_BENIGN.search(l):
            bad.append(l)
            if first is None:
                first, running = n, list(now)
    if bad:
        t.add("FAIL", "harness:kernel-log", f"{len(bad)} report line(s), first: {bad[0]}")
    if first is not None:
        during = " (in the watchdog's dump)" if dump is not None and first > dump else ""
        t.why.append(f"the console's first report{during} (console.log line {first + 1}), "
                     f"while running: {' '.join(running) or 'no test'}")
        t.why.extend("    " + l for l in console[first:first + REPORT_LINES])
    if not bad:
        t.add("PASS", "harness:kernel-log")

    for l in t.lines:
        print(l)
    if t.platform:
        print("platform: " + t.platform)
    if t.times:
        print("kselftest times: " + ", ".join(t.times))
    if t.failed and t.why:
        print("why:")
        for l in t.why:
            print("  " + l)
        print("why: end")
    print(f"results: {t.passed} passed, {t.failed} failed, {t.skipped} skipped")
    return 0 if t.failed == 0 and t.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
