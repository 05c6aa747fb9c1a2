import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
from eksopslab.testing import running_lab  # noqa: E402

PLAYBOOKS = os.path.join(ROOT, "tests", "integration", "playbooks")


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("lab")), "integration.yml") as handle:
        yield handle


@pytest.fixture(name="playbook")
def playbook_path():
    return lambda name: os.path.join(PLAYBOOKS, name)
