"""The execution environment definition (execution-environment/) builds the context docs/awx.md
describes, and the context's galaxy and builder steps do what an image build would do with it.

These machines have no container engine, and Galaxy is not reachable: `ansible-builder create`
(which only writes the Containerfile and the build context) runs for real. The galaxy stage's
step that installs our tarball is run from the generated Containerfile, with amazon.aws and
kubernetes.core copied from the virtual environment's `ansible` package where the image build
would download them, and the builder stage's dependency introspection is the context's own
script run over the result."""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import ansible_collections
import pytest
import yaml
from ansible.config.manager import ConfigManager
from ansible.release import __version__ as ANSIBLE_CORE_VERSION
from packaging.specifiers import SpecifierSet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EE_DIR = os.path.join(ROOT, "execution-environment")
BIN = os.path.dirname(sys.executable)
BUNDLED = list(ansible_collections.__path__)


def tool(name):
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{name} is not installed in {BIN}: it is in requirements/dev.txt; install it "
                    f"with `{sys.executable} -m pip install {name}`")
    return path


def run(argv, **kwargs):
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    return done.returncode, done.stdout + done.stderr


def read_yaml(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def requirement_lines(path):
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


GALAXY = read_yaml(ROOT, "galaxy.yml")
TARBALL = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
OUR_REQUIREMENTS = requirement_lines(os.path.join(ROOT, "meta", "ee-requirements.txt"))


@pytest.fixture(scope="module", name="layout")
def build_layout(tmp_path_factory):
    """The documented steps in a copy of the repository's layout: build the collection tarball
    into execution-environment/collections, then `ansible-builder create`."""
    work = tmp_path_factory.mktemp("ee")
    ee_dir = work / "execution-environment"
    ee_dir.mkdir()
    for name in ("execution-environment.yml", "requirements.yml"):
        shutil.copy(os.path.join(EE_DIR, name), ee_dir / name)
    (work / "meta").mkdir()
    shutil.copy(os.path.join(ROOT, "meta", "ee-requirements.txt"), work / "meta")
    rc, out = run([tool("ansible-galaxy"), "collection", "build", ROOT,
                   "--output-path", str(ee_dir / "collections")])
    assert rc == 0, out
    context = work / "context"
    rc, out = run([tool("ansible-builder"), "create", "-f", str(ee_dir / "execution-environment.yml"),
                   "-c", str(context), "--output-filename", "Containerfile"])
    assert rc == 0, out
    assert "No matches" not in out, out
    with open(context / "Containerfile", encoding="utf-8") as handle:
        containerfile = handle.read()
    return {"work": work, "context": context, "build": context / "_build",
            "containerfile": containerfile}


def arg(containerfile, name):
    match = re.search(rf'^ARG {name}="(.*)"$', containerfile, re.M)
    assert match, f"no ARG {name} in the Containerfile"
    return match.group(1)


def test_base_image_python_and_the_ansible_core_we_test(layout):
    containerfile = layout["containerfile"]
    assert arg(containerfile, "EE_BASE_IMAGE") == "quay.io/centos/centos:stream9"
    assert arg(containerfile, "PYCMD") == "/usr/bin/python3.12"
    refs = arg(containerfile, "ANSIBLE_INSTALL_REFS").split()
    core = [r for r in refs if r.startswith("ansible-core")]
    assert len(core) == 1 and any(r.startswith("ansible-runner") for r in refs), refs
    assert ANSIBLE_CORE_VERSION in SpecifierSet(core[0][len("ansible-core"):]), (
        f"the EE's {core[0]} excludes ansible-core {ANSIBLE_CORE_VERSION}, which the tests run")


def test_python_requirements_are_the_collections_own(layout):
    assert requirement_lines(layout["build"] / "requirements.txt") == OUR_REQUIREMENTS
    names = {re.split(r"[<>=!~ ]", line, 1)[0] for line in OUR_REQUIREMENTS}
    assert {"boto3", "botocore", "kubernetes", "cryptography"} <= names
    assert "kubernetes>=29,<37" in OUR_REQUIREMENTS
    # the collection's own metadata names the same file (ansible-builder reads it when the
    # collection is installed: see the introspection test below)
    meta = read_yaml(ROOT, "meta", "execution-environment.yml")
    assert meta["dependencies"]["python"] == "meta/ee-requirements.txt"


def test_galaxy_requirements_are_the_dependencies_of_galaxy_yml(layout):
    wanted = read_yaml(layout["build"], "requirements.yml")["collections"]
    assert {c["name"]: c["version"] for c in wanted} == GALAXY["dependencies"]
    assert re.search(r"ansible-galaxy collection install .*-r requirements.yml",
                     layout["containerfile"])


def test_the_context_carries_our_collection_tarball(layout):
    path = layout["build"] / "collections" / TARBALL
    assert path.is_file(), sorted(os.listdir(layout["build"]))
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        members = set(tar.getnames())
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == (
        GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
    assert {"roles/enable/tasks/main.yml", "plugins/modules/eks_windows_support.py",
            "meta/execution-environment.yml", "meta/ee-requirements.txt"} <= members
    assert not any(m.startswith((".venv", ".build", ".lab")) for m in members)


def galaxy_stage_step(layout, collections):
    """The Containerfile's RUN that installs our tarball, pointed at this test's directories."""
    steps = [line for line in layout["containerfile"].splitlines()
             if line.startswith("RUN ") and "/build/collections/" in line]
    assert len(steps) == 1, steps
    return (steps[0][len("RUN "):]
            .replace("/build/", str(layout["build"]) + "/")
            .replace("/usr/share/ansible/collections", str(collections)))


def install_dependencies(collections):
    """What the galaxy stage's `ansible-galaxy collection install -r requirements.yml` fetches
    from Galaxy: amazon.aws and kubernetes.core, here copied from the ansible package."""
    for fqcn in ("amazon.aws", "kubernetes.core"):
        namespace, name = fqcn.split(".")
        source = next(os.path.join(p, namespace, name) for p in BUNDLED
                      if os.path.isdir(os.path.join(p, namespace, name)))
        shutil.copytree(source, collections / "ansible_collections" / namespace / name)


def stage_env(tmp_path, collections):
    """The galaxy stage's view: only the collections installed in the image so far (not this
    checkout on ANSIBLE_COLLECTIONS_PATH, nor those of the `ansible` package on sys.path)."""
    return dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"],
                ANSIBLE_HOME=str(tmp_path / "ansible-home"), ANSIBLE_NOCOLOR="1",
                ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")


def test_galaxy_stage_installs_the_tarball_offline_and_the_builder_finds_its_requirements(layout, tmp_path):
    collections = tmp_path / "collections"
    install_dependencies(collections)
    rc, out = run(["sh", "-c", galaxy_stage_step(layout, collections)], env=stage_env(tmp_path, collections))
    assert rc == 0, out
    manifest = collections / "ansible_collections" / "eksops" / "windows" / "MANIFEST.json"
    assert json.loads(manifest.read_text())["collection_info"]["version"] == GALAXY["version"]
    # the builder stage: introspection over every installed collection plus the user's file
    rc, out = run([sys.executable, str(layout["build"] / "scripts" / "introspect.py"), "introspect",
                   str(collections), "--user-pip", str(layout["build"] / "requirements.txt")])
    assert rc == 0, out
    python = yaml.safe_load(out[out.index("---"):])["python"]
    for line in OUR_REQUIREMENTS:
        assert f"{line}  # from collection eksops.windows" in python, python
    assert any(r.endswith("# from collection amazon.aws") for r in python), python
    assert any(r.endswith("# from collection kubernetes.core") for r in python), python


def test_galaxy_stage_says_what_is_wrong_without_exactly_one_tarball(layout, tmp_path):
    collections = tmp_path / "collections"
    install_dependencies(collections)
    step = galaxy_stage_step(layout, collections)
    tarball = layout["build"] / "collections" / TARBALL
    hidden = tmp_path / TARBALL
    os.rename(tarball, hidden)
    try:
        rc, out = run(["sh", "-c", step], env=stage_env(tmp_path, collections))
    finally:
        os.rename(hidden, tarball)
    assert rc != 0
    assert "must hold exactly one eksops-windows-<version>.tar.gz" in out, out
    assert "ansible-galaxy collection build --output-path execution-environment/collections" in out
    assert not (collections / "ansible_collections" / "eksops").exists()


def test_ansible_and_the_definition_agree_on_where_collections_go():
    """ansible-core in the image finds /usr/share/ansible/collections by default (the path the
    galaxy stage installs to)."""
    default = ConfigManager().get_configuration_definition("COLLECTIONS_PATHS")["default"]
    assert "/usr/share/ansible/collections" in default
