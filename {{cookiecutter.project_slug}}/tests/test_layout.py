"""The README's project layout is the project's real file set: every module is named in
the tree, every name in the tree is a file, so the map a learner reads first cannot drift."""

import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
MODULE = re.compile(r"\b([a-z_]+\.py)\b")


def layout_block() -> list[str]:
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Project layout", 1)[1]
    return section.split("```", 2)[1].strip("\n").splitlines()


def listed_modules(lines: list[str]) -> tuple[Path, set[Path]]:
    """(the package folder, every module the tree names there, as paths under it)."""
    package = PROJECT / lines[0].strip()
    named: set[Path] = set()
    for line in lines[1:]:
        if not line.startswith("  "):
            continue  # a top-level entry (k8s/, tests/ ...), not a module of the package
        folder, _, rest = line.strip().partition(" ")
        base = package if folder == "(top" else package / folder.rstrip("/")
        named |= {base / name for name in MODULE.findall(rest)}
    return package, named


def test_every_module_is_in_the_readme_tree_and_every_name_in_it_is_a_module():
    package, named = listed_modules(layout_block())
    present = {path for path in package.rglob("*.py") if path.name != "__init__.py"}
    assert sorted(map(str, named - present)) == [], "named in README's tree, but no such file"
    assert sorted(map(str, present - named)) == [], "a module the README's tree leaves out"


def test_every_top_level_entry_of_the_tree_exists():
    entries = [line.split()[0] for line in layout_block() if line and not line.startswith(" ")]
    assert entries, "the tree names no top-level entries"
    missing = [entry for entry in entries if not (PROJECT / entry).exists()]
    assert missing == []


def test_the_package_shows_the_five_stages_and_one_contract():
    """What a learner sees first in src/: the stages, the contract, and the two doors."""
    package, _ = listed_modules(layout_block())
    folders = {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}
    assert {"data", "model", "serve", "monitor", "container", "contract"} <= folders
    for door in (package / "serve" / "internals", package / "model" / "onnx"):
        doc = (door / "__init__.py").read_text(encoding="utf-8")
        assert "never" in doc and "Skip on a first reading" in doc, door


def string_constants(folder: Path) -> list[tuple[str, str]]:
    """(module, value) for every string literal in the package's code, docstrings included."""
    import ast

    found = []
    for module in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((str(module.relative_to(folder)), node.value))
    return found


def test_the_project_name_and_each_build_path_are_written_once():
    """One place to change each: config.PROJECT, and each build/ path beside its command."""
    from {{ cookiecutter.package_name }}.config import PROJECT as NAME

    package = PROJECT / "src" / "{{ cookiecutter.package_name }}"
    constants = string_constants(package)
    assert [module for module, value in constants if value == NAME] == ["config.py"]
    build_paths = [value for _, value in constants if re.fullmatch(r"build/[\w./-]+", value)]
    repeated = sorted({path for path in build_paths if build_paths.count(path) > 1})
    assert repeated == [], f"written more than once (name each in one module): {repeated}"
