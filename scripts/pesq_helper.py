#!/usr/bin/env python3
"""Wide-band PESQ for ldmrecon, one process for a whole run (not an interpreter start per file), through
the user's own `pesq` package (ITU-T P.862.2; its code may not be shipped with ldmrecon).

Protocol on stdin/stdout, one request at a time:
  request:  "RATE N\\n", then N little-endian float32 reference samples, then N estimate samples
  answer:   "SCORE\\n" (a float), or "error MESSAGE\\n" (e.g. no speech found); the helper keeps running
"""
import sys

import numpy as np
from pesq import pesq


def main() -> int:
    inp, out = sys.stdin.buffer, sys.stdout
    out.write("ready\n")
    out.flush()
    while True:
        line = inp.readline()
        if not line:
            return 0
        rate, n = map(int, line.split())
        data = inp.read(8 * n)
        if len(data) != 8 * n:
            return 1
        ref = np.frombuffer(data[: 4 * n], "<f4").astype(np.float64)
        est = np.frombuffer(data[4 * n :], "<f4").astype(np.float64)
        try:
            out.write(f"{pesq(rate, ref, est, 'wb')!r}\n")
        except Exception as e:  # pesq raises on silence, too short inputs, ...
            out.write(("error " + f"{type(e).__name__}: {e}".replace("\n", " ")) + "\n")
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
