"""Remove each check-mode guard of the collection in turn and run the unit suite: every guard
must be caught by a unit test (a step that writes in check mode must fail one).

A guard is a use of `check_mode` (or `module.check_mode`, `self.check_mode`) in a condition:
`not check_mode` (mutated to True: the write always happens), `if check_mode` and
`check_mode or ...` (mutated to False: the check-mode branch never runs). Prints one line per
guard and a summary; exits 1 when a guard survives.
`make mutation` (or .venv/bin/python tests/mutation/check_mode_guards.py [files...]).
"""

import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = r"(?:module\.|self\.)?check_mode\b"
PATTERNS = ((re.compile(r"\bnot " + NAME), "True"),
            (re.compile(r"(?<=\bif )" + NAME), "False"),
            (re.compile(r"\b" + NAME + r"(?= or )"), "False"))


def guards(path):
    """(line number, line, pattern, replacement) of every guard outside docstrings."""
    in_string = False
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.count('"""') % 2 == 1:
                in_string = not in_string
                continue
            if in_string or line.lstrip().startswith(("#", "def ")):
                continue
            seen = set()
            for pattern, replacement in PATTERNS:
                if pattern.search(line) and pattern.sub(replacement, line, count=1) not in seen:
                    seen.add(pattern.sub(replacement, line, count=1))
                    yield number, line, pattern, replacement


def mutate(line, pattern, replacement):
    return pattern.sub(replacement, line, count=1)


def unit_suite_fails():
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          os.path.join(ROOT, "tests", "unit")],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    return run.returncode != 0


def main(paths):
    paths = paths or sorted(glob.glob(os.path.join(ROOT, "plugins", "module_utils", "*.py")) +
                            glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))
    survived, caught = [], 0
    for path in paths:
        for number, line, pattern, replacement in guards(path):
            with open(path, encoding="utf-8") as handle:
                original = handle.readlines()
            mutated = list(original)
            mutated[number - 1] = mutate(line, pattern, replacement)
            try:
                with open(path, "w", encoding="utf-8") as handle:
                    handle.writelines(mutated)
                failed = unit_suite_fails()
            finally:
                with open(path, "w", encoding="utf-8") as handle:
                    handle.writelines(original)
            where = "%s:%d %s" % (os.path.relpath(path, ROOT), number, line.strip())
            print("%-8s %s" % ("caught" if failed else "SURVIVED", where), flush=True)
            if failed:
                caught += 1
            else:
                survived.append(where)
    print("%d guards: %d caught by the unit suite, %d survived" % (
        caught + len(survived), caught, len(survived)))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
