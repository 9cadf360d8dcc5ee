"""Shared by the Python tests: where the binary and fixtures are, and how to run the CLI."""
import os
import subprocess
import sys
import tempfile
import threading
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(HERE))
try:  # exports call ldmrecon::attention: register it for the tests that load them with torch.jit.load
    import ldmrecon_ops  # noqa: E402,F401
except ImportError:  # a Python without torch runs only the binary
    pass

BIN = os.environ.get("LDMRECON_BIN", str(ROOT / "build" / "ldmrecon"))
FIXTURES = Path(os.environ.get("LDMRECON_FIXTURES", str(ROOT / "build" / "test-fixtures")))
AUDIO = FIXTURES / "audio"
MODELS = FIXTURES / "models"
TINY = MODELS / "tiny"


def run(*args, check=False, env=None, timeout=300):
    """Runs ldmrecon with no models found by default (LDMRECON_MODELS unset), returns CompletedProcess.
    env: variables to set; a value of None unsets one. timeout: seconds (compile takes minutes)."""
    e = dict(os.environ)
    e.pop("LDMRECON_MODELS", None)
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, env=e, stdin=subprocess.DEVNULL,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"ldmrecon {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}")
    return p


def tmpdir():
    return tempfile.TemporaryDirectory(prefix="ldmrecon-test-")


class InTempDir(unittest.TestCase):
    """A test case whose every test has a fresh folder, self.d, removed after it."""

    def setUp(self):
        tmp = tmpdir()
        self.addCleanup(tmp.cleanup)
        self.d = Path(tmp.name)


def in_background(target):
    """A started daemon thread: one left blocked by a failing test cannot keep the test run from ending."""
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def wait_or_kill(p, timeout=120):
    """p's exit status. One still running after `timeout` s is killed and the test fails: never a hang."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError(f"{p.args[0]} was still running {timeout} s later, and was killed") from None


def kill_if_running(p):
    """For addCleanup: a process a failed test left behind does not outlive it."""
    if p.poll() is None:
        p.kill()
        p.wait()
