"""bench/faults.sh's table kept from rotting (issue 12, "Measure"): the same
16 fault scenarios through the real gateway with the deadlines scaled to a
tenth (bench/faults.py --fast); every scenario must end with the complete
answer, except the content-policy 400 (a clean error after one try)."""
import os
import subprocess
import sys

import mm


def test_fault_table_fast():
    script = os.path.join(mm.SOURCE_DIR, "bench", "faults.py")
    env = dict(os.environ, MM_BIN_DIR=mm.BIN_DIR, MM_SOURCE_DIR=mm.SOURCE_DIR)
    p = subprocess.run([sys.executable, script, "--fast"], env=env, capture_output=True, text=True,
                       timeout=120 * mm.SLOW)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = [l for l in p.stdout.splitlines()[1:] if l.strip()]
    assert len(rows) == 16, p.stdout
    assert sum(" complete " in l for l in rows) == 15, p.stdout
    policy = [l for l in rows if l.startswith("400 content_policy_violation")]
    assert len(policy) == 1 and " clean error " in policy[0], p.stdout
    assert " wrong " not in p.stdout
