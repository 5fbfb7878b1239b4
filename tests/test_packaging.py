"""The wheel holds every package and template: the README's quick start installs it
non-editable, where a package missing from pyproject.toml's list fails at import."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def test_every_python_package_is_listed_for_the_wheel() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
                 ["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "aggregator").rglob("__init__.py")}
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"


def test_every_template_is_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["setuptools"]["package-data"]["aggregator.templates"]
    suffixes = {p.rsplit(".", 1)[1] for p in patterns}
    for path in (ROOT / "templates").rglob("*"):
        if path.is_file() and path.suffix not in (".py", ".pyc"):
            assert path.suffix.lstrip(".") in suffixes, f"{path} would not ship in the wheel"
