"""`make run` stays true: the walk-through runs and shows every part's result."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.processes import ROOT, base_env


@pytest.mark.slow
def test_make_run_walk_through_shows_every_summary(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tests.demo", "--once", "--vms", "60",
         "--state-dir", str(tmp_path)],
        cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=240)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert re.search(r"VirtualMachine +60\n", out)
    assert "no errors" in out
    assert "Showback" in out and "total" in out
    assert out.count("arrived in CloudForet:") == 3
    assert "signature valid: True" in out
    assert "Nutanix/4u" not in out  # the demo login never printed
