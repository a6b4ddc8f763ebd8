#!/usr/bin/env python3
"""Count meson test results (one JSON object per line in testlog.json) and
the cmocka cases inside them; print 'N passed, N failed' last."""
import json
import re
import sys

passed = failed = skipped = 0
cases_ok = cases_bad = 0
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError as e:
    print(f"no test log: {e}")
    print("0 passed, 1 failed")
    sys.exit(1)
for line in lines:
    if not line.strip():
        continue
    t = json.loads(line)
    res = t.get("result")
    if res in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif res == "SKIP":
        skipped += 1
    else:
        failed += 1
        print(f"FAILED: {t.get('name')} ({res})")
    out = t.get("stdout") or ""
    cases_ok += len(re.findall(r"^\[       OK \]", out, re.M))
    cases_bad += len(re.findall(r"^\[  FAILED  \]\s+\S+$", out, re.M))
print(f"meson tests: {passed} ok, {failed} failed, {skipped} skipped; "
      f"cmocka cases: {cases_ok} ok, {cases_bad} failed")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
