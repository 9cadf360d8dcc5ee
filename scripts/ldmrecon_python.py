"""Lets the scripts run from any Python: when this one has no torch (e.g. a pyenv python3 ahead of
Debian's /usr/bin/python3 on PATH), re-run the same command under one that has it; and when OpenBLAS fell
back to its generic kernels on a CPU it does not know, re-run it with the right ones, as the CLI does."""
import ctypes
import os
import subprocess
import sys
from pathlib import Path


def ensure_fast_blas() -> None:
    """OpenBLAS picks its kernels when it loads, from $OPENBLAS_CORETYPE or the CPU's model number; on a
    model it does not know (common in virtual machines) it takes the generic SSE3 "Prescott" set, several
    times slower for matrix products. Before torch loads it, ask OpenBLAS what it picked and, if that was
    the fallback on an AVX2 CPU, start this command again with the core named (include/ldmrecon/blas.hpp
    is the CLI's twin of this). A value the user set is left alone."""
    if "OPENBLAS_CORETYPE" in os.environ or "torch" in sys.modules or not sys.platform.startswith("linux"):
        return
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
        lib = ctypes.CDLL("libblas.so.3")  # the BLAS Debian's torch links
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = (lib.openblas_get_corename() or b"").decode()
    except (OSError, AttributeError):
        return  # no /proc, no libblas.so.3, or not OpenBLAS
    if core != "Prescott" or not {"avx2", "fma"} <= flags:
        return
    avx512 = {"avx512f", "avx512vl", "avx512bw", "avx512dq"} <= flags
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX" if avx512 else "Haswell"
    os.execv(sys.executable, [sys.executable, *sys.argv])


def ensure_torch() -> None:
    ensure_fast_blas()
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
