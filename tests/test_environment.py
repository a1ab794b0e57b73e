"""requirements.txt (pip), environment.yml (conda, Binder) and requirements-colab.txt agree."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# pip name -> conda-forge name, where they differ
CONDA_NAME = {"torch": "pytorch-cpu", "graphviz": "python-graphviz"}
# conda-only entries: the interpreter, pip itself, and Graphviz's `dot` program
CONDA_ONLY = {"python", "pip", "graphviz"}


def pip_pins(path):
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            pins[name.lower()] = version
    return pins


def conda_specs():
    """(conda dependencies, pip-section dependencies) of environment.yml, without a YAML parser."""
    conda, pip, in_pip = {}, {}, False
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("\ndependencies:\n", 1)[1].splitlines():
        if re.match(r"^\s{2}- pip:\s*$", line):
            in_pip = True
            continue
        m = re.match(r"^\s{6}- ([\w.-]+)==([\w.]+)\s*$", line)
        if in_pip and m:
            pip[m[1].lower()] = m[2]
            continue
        m = re.match(r"^\s{2}- ([\w.-]+)(?:=([\w.*]+))?\s*$", line)
        if m:
            in_pip = False
            conda[m[1].lower()] = m[2]
    return conda, pip


def test_requirements_pin_every_package_exactly_and_torch_first():
    pins = pip_pins(ROOT / "requirements.txt")
    assert list(pins)[0] == "torch"
    assert all(re.fullmatch(r"\d+(\.\d+)*", version) for version in pins.values()), pins
    assert len(pins) >= 10


def test_installed_torch_is_the_pinned_one_in_the_project_environment():
    # tools/other_torch.py runs these tests with another release in .venv-torch-VERSION/: there the
    # pin does not apply; in .venv/ (workshop.py setup) the installed torch is the pinned one
    import sys

    import torch

    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip(f"not the project's .venv/ but {sys.prefix}")
    assert torch.__version__.split("+")[0] == pip_pins(ROOT / "requirements.txt")["torch"]


def test_environment_names_the_same_packages_with_compatible_versions():
    pins = pip_pins(ROOT / "requirements.txt")
    conda, pip = conda_specs()
    assert set(pip) & set(conda) == set(), "a package is in both the conda and the pip section"
    assert CONDA_ONLY <= set(conda)
    assert set(pip) <= set(pins), f"pip section names packages requirements.txt lacks: {set(pip) - set(pins)}"
    # conda's bare `graphviz` is the dot program; python-graphviz stands for pip's graphviz
    assert {CONDA_NAME.get(p, p) for p in pins if p not in pip} == set(conda) - CONDA_ONLY
    for name, version in pins.items():
        if name in pip:
            assert pip[name] == version, f"{name}: {pip[name]} in environment.yml, {version} in requirements.txt"
            continue
        spec = conda[CONDA_NAME.get(name, name)]
        assert spec, f"{name} is not pinned in environment.yml"
        assert version == spec or version.startswith(spec + "."), (
            f"{name}: {spec} in environment.yml does not match {version} in requirements.txt")


def test_environment_is_conda_forge_only_and_cpu_only():
    text = (ROOT / "environment.yml").read_text()
    channels = re.search(r"channels:\n((?:\s+- .+\n)+)", text)[1]
    assert [c.strip("- ").strip() for c in channels.splitlines()] == ["conda-forge", "nodefaults"]
    assert "pytorch-cpu" in text and "cuda" not in text.replace("# ", "").split("dependencies:")[1]
    assert re.search(r"^\s+- graphviz\s*$", text, re.M), "Graphviz's dot program"


def test_colab_requirements_agree_with_requirements():
    pins = pip_pins(ROOT / "requirements.txt")
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements-colab.txt").read_text().splitlines()]
    colab = dict(line.partition("==")[::2] for line in lines if line)
    assert colab["torchviz"] == pins["torchviz"]
    assert colab == {"torchviz": pins["torchviz"], "setuptools": ""}, "only what Colab lacks"
    assert "torch" not in colab, "Colab has its own torch: never replace it"


def _other_torch():
    import importlib.util

    spec = importlib.util.spec_from_file_location("other_torch", ROOT / "tools" / "other_torch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_other_torch_installs_every_pin_but_torch():
    other = _other_torch()
    pins = pip_pins(ROOT / "requirements.txt")
    wanted = other.pins_without_torch()
    assert {line.partition("==")[0].lower() for line in wanted} == set(pins) - {"torch"}
    assert all(pins[name.lower()] == version for name, _, version in (w.partition("==") for w in wanted))
    assert other.venv_dir("2.14.1").name == ".venv-torch-2.14.1"
    assert ".venv-torch-*/" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("bad", ["2.14", "latest", "2.14.1; rm -rf /", "../2.14.1"])
def test_other_torch_refuses_what_is_not_a_release(bad, capsys):
    assert _other_torch().main([bad]) == 2
    assert "is not a torch release" in capsys.readouterr().err
