import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # eksopslab
from eksopslab.testing import COLLECTIONS, running_lab  # noqa: E402

sys.path.insert(0, COLLECTIONS)  # ansible_collections.eksops.windows (the token code)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("lab")), "labtest.yml") as handle:
        yield handle
