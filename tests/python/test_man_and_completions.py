"""The man page names every option the binary's help lists, and renders cleanly; the bash and zsh completions
complete commands, each command's options (read from the binary) and option values."""
import os
import re
import shutil
import subprocess
import unittest
from pathlib import Path

from common import run

ROOT = Path(__file__).resolve().parents[2]
MAN = ROOT / "docs" / "ldmrecon.1"
BASH = ROOT / "completions" / "ldmrecon.bash"
ZSH = ROOT / "completions" / "_ldmrecon"
COMMANDS = ([], ["metrics"], ["pitch"], ["mel"], ["info"], ["report", "merge"], ["encode"], ["decode"],
            ["ablate"], ["bench"], ["compile"])
OPTION_LINE = re.compile(r"^ +(?:-\w,)?(--[a-z][a-z0-9-]*)", re.M)


def rendered_man():
    p = subprocess.run(["groff", "-man", "-Tascii", "-ww", "-P-c", "-P-b", "-P-u", str(MAN)], capture_output=True,
                       text=True)
    return p


class ManPage(unittest.TestCase):
    def test_renders_without_warnings_and_names_every_option(self):
        p = rendered_man()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "", "groff warnings")
        text = p.stdout  # .nh: no option is hyphenated across lines
        for cmd in COMMANDS:
            for opt in set(OPTION_LINE.findall(run(*cmd, "--help", check=True).stdout)):
                self.assertIn(opt, text, f"ldmrecon {' '.join(cmd)} {opt}")
        for word in ("EXIT STATUS", "metrics", "report merge", "LDMRECON_MODELS"):
            self.assertIn(word, text)


class BashCompletion(unittest.TestCase):
    def complete(self, *words):
        """COMPREPLY for the command line `words`, the last one being completed."""
        binary = os.environ.get("LDMRECON_BIN", str(ROOT / "build" / "ldmrecon"))
        line = " ".join(f"'{w}'" for w in (binary, *words))
        script = f"source '{BASH}'; COMP_WORDS=({line}); COMP_CWORD={len(words)}; _ldmrecon; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd="/")
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.split()

    def test_commands_options_and_values(self):
        self.assertIn("metrics", self.complete("met"))
        self.assertEqual(self.complete("metrics", "--li"), ["--list"])
        self.assertIn("--dtype", self.complete("--dt"))
        self.assertIn("--pairs", self.complete("metrics", "--pa"))
        self.assertNotIn("--pairs", self.complete("--pa"))  # another command's option
        self.assertEqual(self.complete("--dtype", "b"), ["bf16"])
        self.assertIn("sample,stoi", self.complete("--metrics", "sample,st"))
        self.assertIn("sample,mel_l1", self.complete("--metrics", "sample,mel_"))
        self.assertEqual(self.complete("report", "me"), ["merge"])
        self.assertIn("--output", self.complete("report", "merge", "--ou"))


class ZshCompletion(unittest.TestCase):
    """zsh's completion system needs a terminal; the function runs with its builtins as stubs that print
    what they are given (scripts/setup.sh --tests installs zsh)."""
    STUBS = r"""
compadd() { if [[ $1 == -a ]]; then print -l -- ${(P)2}; else while [[ $1 == -* ]]; do [[ $1 == -S ]] && shift; shift; done; print -l -- "$@"; fi }
_files() { print FILES }
_alternative() { print ALTERNATIVES }
words=("$BIN" ${=LINE}); CURRENT=${#words}; PREFIX=${words[-1]}
source "$ZSHCOMP"
"""

    def complete(self, line):
        binary = os.environ.get("LDMRECON_BIN", str(ROOT / "build" / "ldmrecon"))
        p = subprocess.run(["zsh", "-c", self.STUBS], capture_output=True, text=True,
                           env={**os.environ, "BIN": binary, "ZSHCOMP": str(ZSH), "LINE": line})
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.split()

    def test_parses_and_completes(self):
        self.assertIsNotNone(shutil.which("zsh"), "zsh is missing: scripts/setup.sh --tests installs it")
        p = subprocess.run(["zsh", "-n", str(ZSH)], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("--list", self.complete("metrics --li"))
        self.assertIn("--pairs", self.complete("metrics --pa"))
        self.assertNotIn("--pairs", self.complete("--pa"))
        self.assertEqual(self.complete("--dtype b"), ["fp32", "fp16", "bf16", "int8"])
        self.assertEqual(self.complete("met"), ["ALTERNATIVES"])  # commands and files
        self.assertEqual(self.complete("report me"), ["merge"])


if __name__ == "__main__":
    unittest.main()
