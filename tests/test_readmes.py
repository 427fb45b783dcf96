"""Every README of the project: its Mermaid diagrams render, its relative links resolve.

Each diagram is rendered in Chromium (Debian's, driven by Playwright, as in `tests/e2e/`) by the
`mermaid` npm package of `package.json`'s devDependencies, loaded from `node_modules` into a
blank page that may not reach the network: it must come out as an SVG, without a parse error.
Mermaid ends a statement at `;` and reads `#` as the start of an entity code, so neither may
appear in a diagram (the text after it would be lost or misread without any error).

Every command of a shell block runs the project's modules as `.venv/bin/python -m ...` (what
`make` creates), never with a bare `python`, which Debian does not have, nor with `python3 -m`,
which has not the project installed (`python3 -c` with the standard library alone is fine).

Every README names the SPA's Allowed Logout URL as the page sends it (`returnTo` and
`post_logout_redirect_uri` are its origin and `/`, `spa_demo/static/settings.js`), which is also
the local tenant's: `http://localhost:3000/`, with the slash.

Every relative link (`[text](path)` and `![alt](path)`, outside code) must name a file or
folder of the project, and its `#anchor`, if any, a heading of that Markdown file (GitHub's
anchors: lower case, punctuation dropped, spaces as hyphens).
"""

import os
import re
import tomllib
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MERMAID_JS = PROJECT_ROOT / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
NOT_THE_PROJECTS = {".git", ".venv", "node_modules", ".data", "flowlab.egg-info", ".pytest_cache"}
PARTS_WITH_A_FLOW = ["api", "authserver", "spa_demo", "native_demo", "m2m_demo"]

FENCED_BLOCK = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
MERMAID_BLOCK = re.compile(r"^```mermaid\n(.*?)^```", re.DOTALL | re.MULTILINE)
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)
BARE_PYTHON = re.compile(r"(?<![\w./-])(python(?![\w.])|python3 -m )")
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+?)\s*$", re.MULTILINE)
LOGOUT_URL = re.compile(r"logout urls?[^`]{0,40}`(http://localhost:3000[^`]*)`", re.IGNORECASE)
SPA_LOGOUT_URL = "http://localhost:3000/"
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def readmes():
    """Every README.md of the project, the top one first."""
    found = []
    for folder, subfolders, files in os.walk(PROJECT_ROOT):
        subfolders[:] = sorted(name for name in subfolders if name not in NOT_THE_PROJECTS)
        if "README.md" in files:
            found.append(Path(folder, "README.md").relative_to(PROJECT_ROOT))
    return found


def text_of(readme):
    return (PROJECT_ROOT / readme).read_text(encoding="utf-8")


def diagrams():
    return [
        pytest.param(diagram, id=f"{readme}-{number}")
        for readme in readmes()
        for number, diagram in enumerate(MERMAID_BLOCK.findall(text_of(readme)), start=1)
    ]


def links():
    return [
        pytest.param(readme, target, id=f"{readme}->{target}")
        for readme in readmes()
        for target in LINK.findall(CODE_SPAN.sub("", FENCED_BLOCK.sub("", text_of(readme))))
        if not EXTERNAL.match(target)
    ]


def github_anchor(heading):
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors_of(markdown):
    """The heading anchors of a Markdown file, as GitHub makes them (a repeated one gets -1...)."""
    anchors, seen = set(), {}
    for heading in HEADING.findall(FENCED_BLOCK.sub("", markdown)):
        anchor = github_anchor(heading)
        anchors.add(anchor if anchor not in seen else f"{anchor}-{seen[anchor]}")
        seen[anchor] = seen.get(anchor, 0) + 1
    return anchors


@pytest.fixture(scope="module")
def mermaid_page(browser):
    if not MERMAID_JS.is_file():
        pytest.fail(f"{MERMAID_JS} is missing: `make` installs package-lock.json with npm ci")
    context = browser.new_context()
    page = context.new_page()
    page.route("**/*", lambda route: route.abort())
    page.set_content("<!doctype html><title>diagrams</title><body></body>")
    page.add_script_tag(path=str(MERMAID_JS))
    page.evaluate("mermaid.initialize({startOnLoad: false, securityLevel: 'strict'})")
    yield page
    context.close()


def test_the_readmes_are_found():
    found = {str(readme.parent) for readme in readmes()}
    assert {".", *PARTS_WITH_A_FLOW} <= found


@pytest.mark.parametrize("part", PARTS_WITH_A_FLOW)
def test_every_part_has_its_flow_as_a_sequence_diagram(part):
    found = MERMAID_BLOCK.findall(text_of(Path(part, "README.md")))
    assert any(diagram.lstrip().startswith("sequenceDiagram") for diagram in found)


@pytest.mark.parametrize("diagram", diagrams())
def test_every_diagram_renders_as_an_svg(mermaid_page, diagram):
    for line in diagram.splitlines():
        assert "#" not in line and ";" not in line, line
    rendered = mermaid_page.evaluate(
        """async (text) => {
          try {
            const { svg } = await mermaid.render("diagram" + Date.now(), text);
            return { svg };
          } catch (error) {
            return { error: String(error && error.message ? error.message : error) };
          }
        }""",
        diagram,
    )
    assert "error" not in rendered, rendered["error"]
    assert rendered["svg"].startswith("<svg")
    assert "Syntax error" not in rendered["svg"]


@pytest.mark.parametrize("readme", readmes(), ids=str)
def test_every_shell_command_runs_the_projects_python(readme):
    for block in SHELL_BLOCK.findall(text_of(readme)):
        for line in block.splitlines():
            assert not BARE_PYTHON.search(line.partition(" #")[0]), f"{readme}: {line}"


def test_the_top_readmes_commands_run_the_projects_python():
    table = text_of("README.md").split("## What runs\n", 1)[1].strip().split("\n\n", 1)[0]
    header, _, *rows = [
        [cell.strip() for cell in row.split("|")[1:-1]] for row in table.splitlines()
    ]
    commands = [row[header.index("command")] for row in rows]
    assert [command for command in commands if command != "-"]
    for command in commands:
        assert command == "-" or command.startswith("`.venv/bin/python -m "), command


def test_every_readme_gives_the_logout_url_the_spa_sends():
    named = {
        (str(readme), url) for readme in readmes() for url in LOGOUT_URL.findall(text_of(readme))
    }
    assert named and {url for _, url in named} == {SPA_LOGOUT_URL}, named
    tenant = tomllib.loads((PROJECT_ROOT / "authserver" / "tenant.toml").read_text())
    (spa,) = [app for app in tenant["applications"] if app["client_id"] == "spa-demo"]
    assert spa["allowed_logout_urls"] == [SPA_LOGOUT_URL]


@pytest.mark.parametrize(("readme", "target"), links())
def test_every_relative_link_resolves(readme, target):
    path, _, anchor = target.partition("#")
    destination = (PROJECT_ROOT / readme).parent / path if path else PROJECT_ROOT / readme
    assert destination.exists(), f"{readme} links to {path}, which does not exist"
    if anchor and destination.suffix == ".md":
        assert anchor in anchors_of(destination.read_text(encoding="utf-8")), (
            f"{readme} links to #{anchor}, not a heading of {path or readme}"
        )
