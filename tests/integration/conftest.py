import contextlib
import os
import resource
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
from eksopslab.testing import LabPool, running_lab  # noqa: E402

PLAYBOOKS = os.path.join(ROOT, "tests", "integration", "playbooks")


# The lab of integration.yml, for the files that use it without a lab of their own: one start per
# file, stopped when the file ends, so it never idles beside the labs of the files after it
@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("lab")), "integration.yml") as handle:
        yield handle


@pytest.fixture(name="playbook")
def playbook_path():
    return lambda name: os.path.join(PLAYBOOKS, name)


# --- one lab start for the test files that read the same scenario ---------------------------------
# A test file that sets SHARED_SCENARIO = "<scenario>" takes its lab from the pool; the files of one
# scenario run one after the other (below), and the pool stops the lab as soon as a file of another
# scenario (or none) begins, so no shared lab runs beside another file's lab.

def _group(item):
    return getattr(item.module, "SHARED_SCENARIO", None) or item.module.__name__


def pytest_collection_modifyitems(items):
    groups = {}
    for item in items:
        groups.setdefault(_group(item), len(groups))
    items.sort(key=lambda item: groups[_group(item)])


@pytest.fixture(scope="session")
def lab_pool(tmp_path_factory):
    pool = LabPool(lambda: str(tmp_path_factory.mktemp("shared")))
    pool.last_file = None
    yield pool
    with _billed_to(pool.last_file):
        pool.stop()


@pytest.fixture(scope="module", autouse=True)
def _shared_lab_of_this_file(request, lab_pool):
    scenario = getattr(request.module, "SHARED_SCENARIO", None)
    if scenario != lab_pool.scenario:
        with _billed_to(lab_pool.last_file):
            lab_pool.stop()
    if scenario:
        lab_pool.last_file = _file(request.node)


# --- what each test file costs: wall time and CPU-s, printed at the end of the run --------------
# CPU-s are this process's and those of the processes it has waited for: the playbooks, and the
# lab's processes, counted when the lab stops (a lab's whole life at once). A shared lab is
# stopped by the first file of the next group: its cost goes to the last file that used it.

_COST = {}            # test file: [wall s, CPU-s]
_ELSEWHERE = [0.0, 0.0]  # what the running test spent on another file's lab


def _clock():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.monotonic(), own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _file(node):
    return os.path.basename(str(node.path))


def _bill(name, wall, cpu):
    cost = _COST.setdefault(name, [0.0, 0.0])
    cost[0] += wall
    cost[1] += cpu


@contextlib.contextmanager
def _billed_to(name):
    wall, cpu = _clock()
    try:
        yield
    finally:
        if name:
            wall_after, cpu_after = _clock()
            _bill(name, wall_after - wall, cpu_after - cpu)
            _ELSEWHERE[0] += wall_after - wall
            _ELSEWHERE[1] += cpu_after - cpu


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    wall, cpu = _clock()
    try:
        return (yield)
    finally:
        wall_after, cpu_after = _clock()
        _bill(_file(item), wall_after - wall - _ELSEWHERE[0], cpu_after - cpu - _ELSEWHERE[1])
        _ELSEWHERE[:] = [0.0, 0.0]


def pytest_terminal_summary(terminalreporter):
    if not _COST:
        return
    terminalreporter.write_sep("-", "wall and CPU-s per test file (with its playbooks and its labs)")
    for name, (wall, cpu) in sorted(_COST.items(), key=lambda row: -row[1][1]):
        terminalreporter.write_line("   %-32s %6.0f s %7.0f CPU-s" % (name, wall, cpu))
    terminalreporter.write_line("   %-32s %6.0f s %7.0f CPU-s" % (
        "all", sum(c[0] for c in _COST.values()), sum(c[1] for c in _COST.values())))
