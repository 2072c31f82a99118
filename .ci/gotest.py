#!/usr/bin/env python3
"""Reads `go test -json` on stdin for .ci/run and checks that no test skipped
unless .ci/skip-allowlist allows it for this phase.

usage: go test -json ./... | python3 .ci/gotest.py PHASE LOG [--quiet]

PHASE is "unit" or "integration" (the first column of the allowlist). LOG
receives the plain text of the run, as `go test -v` prints it. Unless
--quiet, stdout gets what `go test` prints without -v: each package's
closing line and the output of failed tests. Then the skipped tests, each
with the allowlist reason or "NOT ALLOWED", and a line
"PHASE tests: N passed, N failed, N skipped (N allowed)".

Exit status 1 if a test or subtest skipped without an allowlist entry
(the go test status itself is the caller's to check).
"""
import json
import os
import re
import sys

phase, log_path = sys.argv[1], sys.argv[2]
quiet = "--quiet" in sys.argv[3:]
here = os.path.dirname(os.path.abspath(__file__))

# Allowlist: "PHASE  REGEX  REASON", the regex matched in full against the
# test name (subtests as Parent/child); # starts a comment.
allow = []
with open(os.path.join(here, "skip-allowlist")) as f:
    for n, line in enumerate(f, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) != 3 or parts[0] not in ("unit", "integration"):
            sys.exit(f"{f.name}:{n}: want 'unit|integration REGEX REASON', got {line!r}")
        allow.append((parts[0], re.compile(parts[1]), parts[2]))


def allowed(test):
    for ph, rx, reason in allow:
        if ph == phase and rx.fullmatch(test):
            return reason
    return None


out = sys.stdout
log = open(log_path, "w")
passed = failed = 0
skips = []  # (package, test, reason or None, skip message)
buf = {}  # (package, test) -> output lines, printed if the test fails


def emit(s):
    if not quiet:
        out.write(s)
        out.flush()


for raw in sys.stdin:
    try:
        ev = json.loads(raw)
    except ValueError:
        log.write(raw)  # not JSON: stderr folded in, or a go command error
        emit(raw)
        continue
    if not isinstance(ev, dict):
        continue
    action, test, pkg = ev.get("Action"), ev.get("Test"), ev.get("Package") or ev.get("ImportPath", "")
    text = ev.get("Output")
    if text is not None:
        log.write(text)
        log.flush()
    if action == "build-output":
        emit(text or "")
        continue
    if test is None:
        # Package lines: "ok  pkg 1.2s", "FAIL pkg", "? pkg [no test files]", panics.
        if action == "output" and text and not text.startswith(("PASS\n", "=== ")):
            emit(text)
        continue
    key = (pkg, test)
    if action == "output":
        buf.setdefault(key, []).append(text or "")
    elif action == "pass":
        passed += 1
        buf.pop(key, None)
    elif action == "fail":
        failed += 1
        emit("".join(l for l in buf.pop(key, []) if not l.startswith("=== ")))
    elif action == "skip":
        lines = buf.pop(key, [])
        why = " ".join(l.strip() for l in lines if not l.strip().startswith(("=== ", "--- SKIP")))
        skips.append((pkg, test, allowed(test), why))
log.close()

bad = [s for s in skips if s[2] is None]
print(f"== skipped tests ({phase}): {len(skips)}, {len(skips) - len(bad)} allowed by .ci/skip-allowlist, {len(bad)} not")
for pkg, test, reason, why in sorted(skips, key=lambda s: (s[2] is not None, s[0], s[1])):
    if reason is None:
        print(f"   NOT ALLOWED  {pkg} {test}: {why}")
    else:
        print(f"   allowed      {pkg} {test}: {reason}")
print(f"{phase} tests: {passed} passed, {failed} failed, {len(skips)} skipped ({len(skips) - len(bad)} allowed)")
if bad:
    print(f"== FAIL: {len(bad)} test(s) skipped that were meant to run in the {phase} part; "
          "make them run, or add them to .ci/skip-allowlist with the reason")
    sys.exit(1)
