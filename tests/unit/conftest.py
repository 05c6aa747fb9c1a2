"""Make `ansible_collections.eksops.windows` importable from the repository checkout."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "eksops", "windows")
if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
UNIT = os.path.dirname(os.path.abspath(__file__))
if UNIT not in sys.path:
    sys.path.insert(0, UNIT)  # tests import fakes.py
