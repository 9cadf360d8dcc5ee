"""Lets the scripts run from any Python: when this one has no torch (e.g. a pyenv python3 ahead of
Debian's /usr/bin/python3 on PATH), re-run the same command under one that has it."""
import os
import subprocess
import sys
from pathlib import Path


def ensure_torch() -> None:
    try:
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    finder = Path(__file__).resolve().parent / "find_python.sh"
    p = subprocess.run(["sh", str(finder), "torch"], capture_output=True, text=True)
    py = p.stdout.strip()
    if p.returncode != 0 or not py or os.path.realpath(py) == os.path.realpath(sys.executable):
        raise SystemExit(f"{sys.argv[0]}: this Python ({sys.executable}) has no torch, and no other was found.\n"
                         + p.stderr.strip())
    os.execv(py, [py, *sys.argv])
