"""The README's quick start, run as written: each line of its code block in a folder laid out as the
source tree (build/ and examples/), exit 0, and the files it says it writes. Its first line,
scripts/setup.sh, is what CI itself runs before the tests (.ci/run -> scripts/test.sh)."""
import csv
import os
import re
import subprocess
import unittest
from pathlib import Path

from common import tmpdir

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("LDMRECON_BIN", ROOT / "build" / "ldmrecon"))


def quick_start():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    return [l for l in block.splitlines() if l.strip()]


class QuickStart(unittest.TestCase):
    def test_runs_as_written(self):
        lines = quick_start()
        self.assertEqual(lines[0], "scripts/setup.sh")
        with tmpdir() as d:
            d = Path(d)
            (d / "build").symlink_to(BIN.parent)
            (d / "examples").symlink_to(ROOT / "examples")
            for line in lines[1:]:
                p = subprocess.run(line, shell=True, cwd=d, capture_output=True, text=True, timeout=600)
                self.assertEqual(p.returncode, 0, f"{line}\n{p.stderr[-2000:]}")
                if "metrics" in line.split()[1:2]:
                    self.assertIn("log-mel L1", p.stdout)
                    self.assertIn("STOI", p.stdout)
                    self.assertNotIn("sample-wise", p.stdout)  # --metrics left those out
            self.assertTrue((d / "example.recon.wav").stat().st_size > 100000)
            with (d / "recon" / "report.csv").open() as f:
                rows = list(csv.DictReader(f))
            self.assertEqual([r["status"] for r in rows], ["ok"])
            self.assertTrue((d / "recon" / "example.wav").exists())


if __name__ == "__main__":
    unittest.main()
