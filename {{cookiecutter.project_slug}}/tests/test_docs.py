"""The README and docs/ link only to files (and headings) that exist, and every doc is linked.

An option that is off removes its doc (no deploy target: no docs/deploy.md); a link to it
would then be a dead end for the reader, so this fails instead.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"#{1,6} (.+)")


def pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def prose(page: Path) -> list[str]:
    """The page's lines outside fenced code blocks (a `# comment` there is no heading)."""
    lines, in_code = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces made hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {anchor(match.group(1)) for line in prose(page) if (match := HEADING.match(line))}


def links(page: Path) -> list[str]:
    return [target for line in prose(page) for target in LINK.findall(line)]


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ... not ours to check
            continue
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and fragment not in anchors(linked):
            broken.append(f"{target}: no heading #{fragment} in {linked.relative_to(ROOT)}")
    return broken


def test_every_relative_link_in_the_readme_and_docs_resolves():
    problems = {
        page.relative_to(ROOT).as_posix(): broken
        for page in pages()
        if (broken := broken_links(page))
    }
    assert not problems, "\n".join(
        f"{page}: {line}" for page, lines in problems.items() for line in lines
    )


def test_every_doc_is_linked_from_the_readme():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(README)}
    docs = [page.resolve() for page in pages()[1:]]
    assert docs, "docs/ holds no page"
    assert [doc.name for doc in docs if doc not in linked] == []


def test_the_anchor_rule_is_github_s():
    assert anchor("4. Serve: `make serve`, `/docs`, `make predict`") == (
        "4-serve-make-serve-docs-make-predict"
    )
    assert anchor("When your CSV cannot be used") == "when-your-csv-cannot-be-used"
