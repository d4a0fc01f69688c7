"""The README and the docs say what is true: the sample reports are what `grader check` prints, and
every link between them reaches a file and a heading that exist."""
import re
import subprocess

import pytest

from conftest import GRADER, REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def block_after(text: str, words: str) -> str:
    """The first fenced block after `words`."""
    rest = text[text.index(words):]
    return re.search(r"```\n(.*?)```", rest, re.S).group(1)


def grader_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GRADER, "check", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_readme_shows_what_its_first_command_prints():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ada = grader_check("examples/linear_classifier/ada", "--assignment", "linear_classifier")
    assert ada.returncode == 0
    assert ada.stdout == block_after(readme, "The first command ends with")
    bob = grader_check("examples/linear_classifier/bob", "--assignment", "linear_classifier", "--hidden")
    assert bob.returncode == 1
    assert bob.stdout.startswith(block_after(readme, "To see what a student with a bug gets"))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)        # no headings inside code
    return {slug(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_reaches_a_file_and_a_heading_that_exist(doc):
    text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue                                  # http(s), mailto: not followed here
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            broken.append(f"{target}: no {file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert broken == []
