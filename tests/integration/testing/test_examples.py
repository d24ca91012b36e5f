"""The example downstream projects' own test suites pass, serially and under pytest-xdist."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ["examples/rag_retrieval", "examples/embedding_ingest"]


@pytest.mark.parametrize("workers", [None, "2"])
def test_example_projects_pass(workers):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *EXAMPLES]
    if workers:
        command[4:4] = ["-n", workers]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout.splitlines()[-1]
    assert "failed" not in done.stdout.splitlines()[-1]
