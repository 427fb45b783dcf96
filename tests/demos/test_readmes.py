"""Each demo's README: one run command, "Key takeaways", and Mermaid sequence diagrams that render.

Mermaid is not run here (it is JavaScript), so each diagram line is checked against the part of
its sequence-diagram grammar these READMEs use: declared participants, the four arrow kinds,
notes over declared participants, loops. Message text stops at `#` or `;` in Mermaid (the rest
of the line is dropped), so neither may appear in a diagram.
"""

import re
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMOS = ["m2m_demo", "native_demo", "spa_demo"]

PARTICIPANT = re.compile(r"participant (\w+) as \S.*")
MESSAGE = re.compile(r"(\w+)(?:->>|-->>|->|-->)(\w+): \S.*")
NOTE = re.compile(r"Note over (\w+)(?:,(\w+))?: \S.*")
BLOCK = re.compile(r"loop \S.*|end")


def readme(demo):
    return (PROJECT_ROOT / demo / "README.md").read_text(encoding="utf-8")


def diagrams(text):
    return re.findall(r"```mermaid\n(.*?)```", text, re.DOTALL)


@pytest.mark.parametrize("demo", DEMOS)
def test_the_readme_starts_with_one_run_command_that_works_after_make(demo):
    first_block = re.search(r"```sh\n(.*?)```", readme(demo), re.DOTALL).group(1)
    (command,) = first_block.strip().splitlines()
    assert command.startswith((".venv/bin/python -m ", "make demo"))


@pytest.mark.parametrize("demo", DEMOS)
def test_the_readme_has_key_takeaways(demo):
    takeaways = readme(demo).split("## Key takeaways\n", 1)[1]
    assert takeaways.lstrip().startswith("- ")


@pytest.mark.parametrize("demo", DEMOS)
def test_every_diagram_is_a_valid_sequence_diagram(demo):
    found = diagrams(readme(demo))
    assert found
    for diagram in found:
        lines = [line.strip() for line in diagram.strip().splitlines()]
        assert lines[0] == "sequenceDiagram"
        declared = set()
        depth = 0
        for line in lines[1:]:
            assert "#" not in line and ";" not in line, line
            if participant := PARTICIPANT.fullmatch(line):
                declared.add(participant.group(1))
                continue
            if BLOCK.fullmatch(line):
                depth += -1 if line == "end" else 1
                assert depth >= 0, line
                continue
            used = MESSAGE.fullmatch(line) or NOTE.fullmatch(line)
            assert used, f"not a message, note, participant or loop: {line}"
            assert {name for name in used.groups() if name} <= declared, line
        assert depth == 0
