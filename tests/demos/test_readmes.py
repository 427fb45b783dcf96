"""Each demo's README: one run command that works after `make`, and "Key takeaways".

Its diagrams and links are checked with every other README's in `tests/test_readmes.py`: each
diagram rendered by Mermaid in Chromium, each relative link resolved.
"""

import re
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMOS = ["m2m_demo", "native_demo", "spa_demo"]


def readme(demo):
    return (PROJECT_ROOT / demo / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("demo", DEMOS)
def test_the_readme_starts_with_one_run_command_that_works_after_make(demo):
    first_block = re.search(r"```sh\n(.*?)```", readme(demo), re.DOTALL).group(1)
    (command,) = first_block.strip().splitlines()
    assert command.startswith((".venv/bin/python -m ", "make demo"))


@pytest.mark.parametrize("demo", DEMOS)
def test_the_readme_has_key_takeaways(demo):
    takeaways = readme(demo).split("## Key takeaways\n", 1)[1]
    assert takeaways.lstrip().startswith("- ")
