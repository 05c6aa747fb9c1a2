"""`make test`'s runner: the setup gates and then the test gates on a few parallel slots, each gate
timed; a failed gate ends the run.

    python3 tests/gates.py --setup "venv lab-build" --jobs 2 --gates "integration molecule ..."

Every gate is `make <gate>`, in a process group of its own, its output kept in
.build/gates/<gate>.log and printed whole when the gate ends, so the outputs of gates that ran
side by side never interleave. The setup gates start first; a test gate starts as soon as a slot
is free and the setup gates it needs have passed: those among the prerequisites of its rule in the
Makefile (`unit: venv` waits for the venv only, so it runs while the lab is built), or all of them
if the Makefile has no rule of that name. Gates start in the order given otherwise: give the
longest first. Each slot hands its gates a range of 127.0.0.1 ports of their own
(EKSOPS_LAB_PORTS, read by the lab's free_port), so labs started side by side never pick the same
port. When a gate fails, the gates still running get SIGINT (pytest then runs its teardowns, which
stop their labs), SIGKILL after a grace period, and the run ends with the failed gate's status.

The report at the end gives every gate's wall time, slot and CPU time, the run's wall time, and the
CPU time the whole machine spent during the run. A gate's CPU time is what its process tree used,
as the kernel reports it when the gate's make is reaped (wait4): every process the gate waited
for, the servers of the labs its tests started in-process included; a lab started by labctl (the
molecule scenarios', make demo's) outlives labctl and counts only in the machine's time, which
comes from /proc/stat.
Standard library only: it runs before the virtual environment exists.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGS = os.path.join(ROOT, ".build", "gates")
GRACE = 60  # seconds a gate gets to tear down after SIGINT


def machine_cpu_seconds():
    """Busy CPU time of the whole machine since boot (user, nice, system, irq, softirq, steal)."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(fields[:3]) + sum(fields[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


def port_ranges(slots):
    """One range of ports per slot, below the kernel's ephemeral range (where only an explicit
    bind takes a port: see eksopslab.lab.free_port), split evenly."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as handle:
            ephemeral = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    high = min(ephemeral, 65536) - 1
    low = max(1024, high - 12000)
    size = (high - low + 1) // slots
    return [f"{low + i * size}-{low + (i + 1) * size - 1}" for i in range(slots)]


def announce(text):
    print(text, flush=True)


class Gate:
    def __init__(self, name, slot, env):
        self.name, self.slot = name, slot
        os.makedirs(LOGS, exist_ok=True)
        self.log_path = os.path.join(LOGS, f"{name}.log")
        self.began = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                ["make", "--no-print-directory", name], cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True)
        self.seconds = self.cpu = None

    def poll(self):
        """The gate's exit status, or None while it runs. The only place that reaps the gate's
        make, so the kernel's account of its process tree's CPU time is read (wait4) and kept."""
        if self.seconds is None:
            code, self.cpu = reap(self.process, os.WNOHANG)
            if code is None:
                return None
            self.seconds = time.monotonic() - self.began
        return self.process.returncode

    def output(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def send(self, signum):
        """Send `signum` to the gate's process group (make, and all it started but the labs'
        servers, which run in sessions of their own and are stopped by their tests' teardowns)."""
        if self.poll() is None:
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                pass


def reap(process, flags=0):
    """(exit status, CPU-s of the process and all the children it waited for) of a finished
    `process`, or (None, None) if it runs (flags=os.WNOHANG); sets the Popen's returncode."""
    pid, status, usage = os.wait4(process.pid, flags)
    if pid == 0:
        return None, None
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime


def needed_setup(gate, setup, makefile):
    """The setup gates `gate` waits for: those among its rule's prerequisites in `makefile`'s
    text, or every one if the Makefile has no rule for it."""
    rule = re.search(rf"^{re.escape(gate)}[ \t]*:(?![=:])([^#\n]*)", makefile, re.M)
    if rule is None:
        return set(setup)
    return set(setup) & set(rule.group(1).split())


def read_makefile():
    try:
        with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def run_gates(setup, names, jobs, times):
    """Run the setup gates, then the test gates, on `jobs` slots; the name of the first gate that
    failed, or None."""
    makefile = read_makefile()
    needs = {name: needed_setup(name, setup, makefile) for name in names}
    needs.update({name: set() for name in setup})
    running = {}
    try:
        return _schedule(list(setup) + list(names), running, set(setup), needs, jobs,
                         port_ranges(jobs), times)
    except KeyboardInterrupt:
        stop_all(running.values())
        raise


def _next_ready(waiting, needs, passed):
    for index, name in enumerate(waiting):
        if needs[name] <= passed:
            return waiting.pop(index)
    return None


def _schedule(waiting, running, setup, needs, jobs, ranges, times):
    failed, passed = None, set()
    while (waiting and failed is None) or running:
        for slot in range(jobs):
            if failed is not None or slot in running:
                continue
            name = _next_ready(waiting, needs, passed)
            if name is None:
                break
            running[slot] = Gate(name, slot, dict(os.environ, EKSOPS_LAB_PORTS=ranges[slot]))
            announce(f"== gate {name} started (slot {slot + 1} of {jobs})")
        time.sleep(0.5)
        for slot, gate in list(running.items()):
            code = gate.poll()
            if code is None:
                continue
            del running[slot]
            ok = code == 0 and failed is None
            verdict = "passed" if ok else ("FAILED" if failed is None else "stopped")
            announce(f"---- output of gate {gate.name}\n{gate.output().rstrip()}")
            announce(f"== gate {gate.name} {verdict} after {gate.seconds:.0f} s")
            where = ("setup, " if gate.name in setup else "") + f"slot {slot + 1}"
            times.append((gate.name, where, gate.seconds, ok, gate.cpu))
            if ok:
                passed.add(gate.name)
            if code and failed is None:
                failed = gate.name
                stop_all(running.values())
    return failed


def stop_all(gates):
    gates = list(gates)
    for gate in gates:
        announce(f"== stopping gate {gate.name} (another gate failed)")
        gate.send(signal.SIGINT)
    deadline = time.monotonic() + GRACE
    while any(g.poll() is None for g in gates) and time.monotonic() < deadline:
        time.sleep(0.5)
    for gate in gates:
        gate.send(signal.SIGKILL)


def report(times, wall, cpu):
    announce("== time per gate: wall s, CPU-s of its process tree")
    for name, where, seconds, passed, gate_cpu in times:
        mark = "" if passed else "  (failed or stopped)"
        announce(f"   {name:<13} {seconds:6.0f} {gate_cpu or 0:7.0f}   {where}{mark}")
    announce(f"   {'sum of gates':<13} {sum(t[2] for t in times):6.0f} "
             f"{sum(t[4] or 0 for t in times):7.0f}")
    announce(f"   {'wall':<13} {wall:6.0f}")
    if cpu is not None:
        announce(f"   {'machine CPU':<13} {cpu:6.0f}   CPU-s of all processes during the run, "
                 f"{os.cpu_count()} cores")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", default="",
                        help="gates run first; a test gate waits for those of its prerequisites")
    parser.add_argument("--gates", required=True, help="gates run on the slots, longest first")
    parser.add_argument("--jobs", type=int, default=2, help="parallel slots (default 2)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be 1 or more")
    started, cpu_before = time.monotonic(), machine_cpu_seconds()
    times = []

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(signum)

    signal.signal(signal.SIGTERM, on_signal)
    failed = None
    try:
        failed = run_gates(args.setup.split(), args.gates.split(), args.jobs, times)
    finally:
        cpu_after = machine_cpu_seconds()
        cpu = None if None in (cpu_before, cpu_after) else cpu_after - cpu_before
        report(times, time.monotonic() - started, cpu)
    if failed:
        announce(f"== make test FAILED: gate {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
