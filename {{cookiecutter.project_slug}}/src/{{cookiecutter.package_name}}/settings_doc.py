"""docs/settings.md, written from .env.example: every setting, one table per part.

.env.example is the one place a setting is explained, and tests/test_settings_map.py checks it
against every settings class both ways (nothing missing, nothing stale). This module turns it
into the page the README links, so the page cannot say something the file does not:

    make settings-doc     # after you change .env.example; the tests fail while they differ

Standard library only: the template's post-gen hook runs it when the project is made.
"""

import re
from pathlib import Path

SECTION = re.compile(r"^# --- (.+?) ---$")
# `# NAME=value   # what it means`, as tests/test_settings_map.py reads it.
SETTING = re.compile(r"^# ([A-Z][A-Z0-9_]*)=(.*?)\s+# (\S.*)$")
HEAD = """# Settings

Every setting, grouped by the part that reads it. Set one in `.env` (copy `.env.example`,
where each is commented) or as an environment variable; the environment wins over `.env`.
An unknown or malformed value stops the command with one line naming the variable and the
fix (exit 2). The example column is an example, not always the default: leave a setting out
to get its default. This page is written from `.env.example` (`make settings-doc`).
"""


def cell(text: str) -> str:
    """A table cell: a `|` inside it would end it."""
    return text.replace("|", "\\|")


def sections(env_example: str) -> list[tuple[str, list[str], list[str]]]:
    """(title, table rows, notes) for each `# --- title ---` part of .env.example."""
    found: list[tuple[str, list[str], list[str]]] = []
    for line in env_example.splitlines():
        if title := SECTION.match(line):
            found.append((title[1], [], []))
        elif found and (setting := SETTING.match(line)):
            name, example, meaning = setting.groups()
            shown = f"`{cell(example)}`" if example else "(empty)"
            found[-1][1].append(f"| `{name}` | {shown} | {cell(meaning)} |")
        elif found and line.startswith("# "):
            found[-1][2].append(line.removeprefix("# "))
    return found


def page(env_example: str) -> str:
    parts = [HEAD]
    for title, rows, notes in sections(env_example):
        # "Training (src/…/config.py)": the heading is the part, so its anchor is #training.
        heading, _, source = title.partition(" (")
        where = f"Read by {source.replace(')', '', 1)}.\n\n" if source else ""
        table = ["| Setting | Example | What it does |", "| --- | --- | --- |", *rows]
        parts.append(f"## {heading}\n\n{where}" + "\n".join(table) + "\n")
        if notes:
            parts.append(" ".join(notes) + "\n")
    return "\n".join(parts)


def write(root: Path) -> Path:
    target = root / "docs" / "settings.md"
    target.write_text(page((root / ".env.example").read_text()))
    return target


if __name__ == "__main__":
    from . import cli  # pydantic: not for the hook, which imports this file alone

    # The project `make` runs in (its folder), as every make-facing command reads .env there.
    cli.run(lambda: print(f"Wrote {write(Path.cwd()).relative_to(Path.cwd())}"))
