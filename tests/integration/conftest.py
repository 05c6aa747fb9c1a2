import os
import sys

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
    yield pool
    pool.stop()


@pytest.fixture(scope="module", autouse=True)
def _shared_lab_of_this_file(request, lab_pool):
    if getattr(request.module, "SHARED_SCENARIO", None) != lab_pool.scenario:
        lab_pool.stop()
