"""Where a command's CPU time goes, by kind of process: the lab's servers (kube-apiserver,
kube-controller-manager, etcd, the lab daemon's moto), Ansible's controller and its modules,
pytest, molecule, ansible-test, and so on.

    python3 tests/perf/cpu_by_kind.py -- make test
    python3 tests/perf/cpu_by_kind.py --interval 0.5 -- make integration-1

Runs the command and reads /proc/<pid>/stat of every process of the machine every --interval
seconds (default 0.5). A process counts with its own user+system time at the last reading that
saw it, less what it had when the command began (children not included, so nothing is counted
twice). A process that began and ended between two readings (most of Ansible's workers and module
processes, `make`, `git`) is not seen: the table ends with the machine's CPU time over the run
(/proc/stat) and the part of it that no seen process accounts for. Other work on the machine
counts too: run it on a quiet machine. The readings themselves cost about 1% of a core.

Figures only, standard library only (it runs before the virtual environment exists).
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gates import machine_cpu_seconds  # noqa: E402  pylint: disable=wrong-import-position

TICK = os.sysconf("SC_CLK_TCK")

# (part of a name, kind): the first that is in the program's name, or for a Python the script's
# or -m module's, names the kind; else the kind is the process's comm
KINDS = (
    ("kube-apiserver", "kube-apiserver"),
    ("kube-controller-manager", "kube-controller-manager"),
    ("eksopslab.daemon", "lab daemon (moto)"),
    ("etcd", "etcd"),
    ("AnsiballZ", "Ansible module"),
    ("ansible-playbook", "ansible-playbook"),
    ("ansible-test", "ansible-test"),
    ("ansible-lint", "ansible-lint"),
    ("molecule", "molecule"),
    ("pytest", "pytest"),
    ("ruff", "ruff"),
    ("pylint", "pylint"),
    ("pip", "pip"),
    ("labctl", "labctl"),
)


def program_names(argv):
    """The program's name and, when it is a Python, the script's or -m module's."""
    if not argv:
        return []
    names = [os.path.basename(argv[0])]
    if names[0].startswith("python"):
        args = iter(argv[1:])
        for arg in args:
            if arg == "-m":
                names.append(next(args, ""))
                break
            if arg == "-c":
                break
            if not arg.startswith("-"):
                names.append(os.path.basename(arg))
                break
    return names


def kind_of(argv, comm):
    names = program_names(argv)
    for needle, kind in KINDS:
        if any(needle in name for name in names):
            return kind
    return comm


def read_processes(seen):
    """Update `seen` {(pid, start time): [kind, CPU-s]} with every process running now."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICK
            key = (pid, fields[19])
            if key in seen:
                seen[key][1] = cpu
                continue
            with open(f"/proc/{pid}/cmdline", encoding="utf-8", errors="replace") as handle:
                argv = handle.read().split("\0")
            seen[key] = [kind_of(argv, comm), cpu]
        except (OSError, ValueError, IndexError):
            continue  # the process ended while it was read


def profile(command, interval):
    """(exit status, {kind: CPU-s}, machine CPU-s) of running `command`."""
    seen = {}
    read_processes(seen)
    before = {key: cpu for key, (_kind, cpu) in seen.items()}
    machine_before = machine_cpu_seconds()
    with subprocess.Popen(command) as process:
        while process.poll() is None:
            time.sleep(interval)
            read_processes(seen)
    totals = {}
    for key, (kind, cpu) in seen.items():
        totals[kind] = totals.get(kind, 0.0) + cpu - before.get(key, 0.0)
    return process.returncode, totals, machine_cpu_seconds() - machine_before


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between readings")
    parser.add_argument("command", nargs="+", help="the command to run, after --")
    args = parser.parse_args(argv)
    began = time.monotonic()
    code, totals, machine = profile(args.command, args.interval)
    wall = time.monotonic() - began
    print(f"== CPU-s by kind of process ({' '.join(args.command)}: {wall:.0f} s wall, exit {code})")
    for kind, cpu in sorted(totals.items(), key=lambda item: -item[1]):
        if cpu >= 0.5:
            print(f"   {kind:<28} {cpu:8.1f}")
    seen = sum(totals.values())
    print(f"   {'machine (/proc/stat)':<28} {machine:8.1f}")
    print(f"   {'not seen (short-lived)':<28} {max(machine - seen, 0.0):8.1f}")
    return code


if __name__ == "__main__":
    sys.exit(main())
