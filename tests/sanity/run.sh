#!/usr/bin/env bash
# ansible-test sanity for eksops.windows, offline except for PyPI, with no Docker.
#
# ansible-test wants the collection at .../ansible_collections/eksops/windows and resolves links,
# so it gets a fresh copy of the collection's files (tracked, and untracked but not ignored) under
# .build/sanity, with amazon.aws and kubernetes.core (from the virtual environment) beside it.
# Its pip bootstrap script (get-pip.py) comes from a host that is not reachable; a local stand-in
# that uses ensurepip takes its place in ansible-test's cache.
#
# Extra arguments go to `ansible-test sanity` (for example --test pep8).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

command -v ansible-test >/dev/null || { echo "ansible-test is not on PATH (run: make venv)" >&2; exit 2; }
PYTHON=$(command -v python3 || command -v python)
PY_VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
SITE_COLLECTIONS=$("$PYTHON" -c 'import ansible_collections, os; print(os.path.dirname(ansible_collections.__file__))' 2>/dev/null \
  || "$PYTHON" -c 'import sysconfig, os; print(os.path.join(sysconfig.get_paths()["purelib"], "ansible_collections"))')

# --- pip bootstrap stand-in, at the path ansible-test looks for it (ansible_test/_util/target/setup/requirements.py)
PIP_VERSION=$("$PYTHON" - "$PY_VERSION" <<'PY'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])
PY
)
GET_PIP="$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py"
if [[ ! -s $GET_PIP ]]; then
  mkdir -p "$(dirname "$GET_PIP")"
  cat > "$GET_PIP.tmp" <<'PY'
"""eksops.windows stand-in for get-pip.py (ansible-test's download host is not reachable).

ansible-test runs it in a fresh virtual environment with get-pip's arguments, for example
`--disable-pip-version-check pip==25.2 --no-setuptools --no-wheel`. It installs the pip that
comes with Python (ensurepip, no network), then tries to move to the requested pip from the
package index; when that fails the bundled pip stays, which serves ansible-test as well.
"""
import subprocess
import sys

options = [a for a in sys.argv[1:] if a.startswith("-") and a not in ("--no-setuptools", "--no-wheel")]
packages = [a for a in sys.argv[1:] if not a.startswith("-")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"],
                      stdout=subprocess.DEVNULL)
if packages:
    result = subprocess.call([sys.executable, "-m", "pip", "install", "--quiet"] + options + packages)
    if result:
        sys.stderr.write("get-pip stand-in: could not install %s; keeping the pip from ensurepip\n"
                         % " ".join(packages))
PY
  mv "$GET_PIP.tmp" "$GET_PIP"
  echo "wrote pip bootstrap stand-in $GET_PIP"
fi

# --- fresh copy of the collection, with its dependencies beside it
BUILD="$ROOT/.build/sanity"
COLLECTION="$BUILD/ansible_collections/eksops/windows"
# ansible-test's own virtual environment lives in the copy (tests/output/.tmp/delegation); it is
# kept across runs (same absolute path) unless its Python no longer runs.
DELEGATION="$COLLECTION/tests/output/.tmp/delegation"
KEPT="$ROOT/.build/sanity-delegation"
rm -rf "$KEPT"
if [[ -d $DELEGATION ]] && "$DELEGATION/python$PY_VERSION/bin/python" -c '' 2>/dev/null; then
  mv "$DELEGATION" "$KEPT"
fi
rm -rf "$BUILD"
mkdir -p "$COLLECTION" "$BUILD/ansible_collections/amazon" "$BUILD/ansible_collections/kubernetes"
git ls-files -z -co --exclude-standard \
  | while IFS= read -r -d '' f; do if [[ -e $f || -L $f ]]; then printf '%s\0' "$f"; fi; done \
  | tar --null -T - -cf - | tar -xf - -C "$COLLECTION"
FILES=$(find "$COLLECTION" -type f | wc -l)
if [[ -d $KEPT ]]; then
  mkdir -p "$(dirname "$DELEGATION")"
  mv "$KEPT" "$DELEGATION"
fi
for dep in amazon/aws kubernetes/core; do
  [[ -d $SITE_COLLECTIONS/$dep ]] || { echo "missing collection $dep in $SITE_COLLECTIONS" >&2; exit 2; }
  ln -s "$SITE_COLLECTIONS/$dep" "$BUILD/ansible_collections/$dep"
done

# --- run; the copy has no .git, so ansible-test takes every file in it (not git's view of the repo)
cd "$COLLECTION"
export ANSIBLE_TEST_CONTENT_ROOT="$COLLECTION"
echo "ansible-test sanity --venv --python $PY_VERSION ($FILES files)"
set +e
# Dropped from the output: progress lines, pip's chatter while ansible-test fills its virtual
# environments, the C.UTF-8 locale notice and the final "Command ... returned exit status" line.
ansible-test sanity --venv --python "$PY_VERSION" --color no "$@" 2>&1 \
  | grep --line-buffered -v -E -e '^(Running sanity test |Sanity test using |Installing requirements for Python |Using cached pip )' \
      -e "^(WARNING: Location '|Looking in (indexes|links):|Collecting |  Downloading |Processing |Installing collected packages|Successfully installed|Requirement already satisfied)" \
      -e '^WARNING: (Using locale "C.UTF-8" instead of|Reviewing previous [0-9]+ warning)' \
      -e '^FATAL: Command ".*ansible-test sanity .*" returned exit status' \
      -e '^ +━' -e '^$'
status=${PIPESTATUS[0]}
set -e
[[ $status -eq 0 ]] && echo "sanity: passed" || echo "sanity: FAILED (details above; results in $COLLECTION/tests/output)" >&2
exit "$status"
