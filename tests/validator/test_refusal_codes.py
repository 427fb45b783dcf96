"""The refusal codes are public API of the copyable validator: the module docstring documents
exactly the codes ``RefusalCode`` defines, and every refusal is raised with one of those
constants, each of which some check uses. Every refusal class lives in the validator, beside the
RFC 6750 rules that raise them: the framework adapters define none (one way to refuse).

Which code each check sets is asserted by the rejection tests beside this file (the attack table
has one row per attack); this file checks the raise sites themselves, so that a refusal added
without a code, or a code no check uses, fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from shared import flask_auth, token_validation
from shared.token_validation import RefusalCode

SOURCES = [Path(token_validation.__file__)]
EXAMPLES = Path(__file__).parents[2] / "examples"
ADAPTERS = [
    Path(flask_auth.__file__),
    EXAMPLES / "fastapi" / "fastapi_auth.py",
    EXAMPLES / "django" / "django_auth.py",
]
# The classes whose constructor takes the code as its first argument; the other refusal classes
# (InvalidRequest, InsufficientScope, KeysUnavailable, MissingCredentials, WrongTokenKind) pass
# their one code to it.
TAKES_A_CODE = {"TokenValidationError", "InvalidToken"}


def documented_codes() -> list[str]:
    """The first column of the table in the module docstring, in order."""
    _, _header, rows, _ = re.split(r"^ {4}=+ {2}=+$", token_validation.__doc__, flags=re.MULTILINE)
    return re.findall(r"^ {4}([a-z_]+) {2,}\S", rows, flags=re.MULTILINE)


def code_argument(call: ast.Call) -> str | None:
    """The member name of ``RefusalCode.NAME`` when that is the first argument of ``call``."""
    first = call.args[0] if call.args else None
    if isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name):
        return first.attr if first.value.id == "RefusalCode" else None
    return None


def refusal_subclasses(tree: ast.Module) -> list[ast.ClassDef]:
    """The classes of ``tree`` that derive from TokenValidationError."""
    names = {"TokenValidationError"}
    subclasses = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id in names for base in node.bases
        ):
            names.add(node.name)
            subclasses.append(node)
    return subclasses


def is_super_init(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "__init__"
        and isinstance(node.func.value, ast.Call)
        and isinstance(node.func.value.func, ast.Name)
        and node.func.value.func.id == "super"
    )


def refusal_constructions(source: Path) -> list[ast.Call]:
    """Every call that builds a refusal and names its code: ``InvalidToken(...)`` anywhere, and
    ``super().__init__(...)`` in a subclass of TokenValidationError."""
    tree = ast.parse(source.read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in TAKES_A_CODE
    ]
    for subclass in refusal_subclasses(tree):
        calls += [node for node in ast.walk(subclass) if is_super_init(node)]
    return calls


def test_the_module_docstring_documents_exactly_the_codes_defined() -> None:
    assert documented_codes() == [code.value for code in RefusalCode]


def test_a_code_is_its_constant_name_in_lower_case() -> None:
    """So that ``error.code == "exp"`` and ``error.code is RefusalCode.EXP`` both hold."""
    for code in RefusalCode:
        assert code == code.name.lower() == str(code)


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_every_refusal_is_constructed_with_a_code_constant(source: Path) -> None:
    calls = refusal_constructions(source)
    assert calls
    for call in calls:
        assert code_argument(call) is not None, f"{source.name}:{call.lineno} names no RefusalCode"


def test_every_code_is_set_by_some_check() -> None:
    used = {code_argument(call) for source in SOURCES for call in refusal_constructions(source)}
    assert used == {code.name for code in RefusalCode}


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda path: path.name)
def test_an_adapter_defines_no_refusal_of_its_own(adapter: Path) -> None:
    """The adapters raise the validator's refusals (and call its ``bearer_token`` and
    ``authorize``): a refusal class or a code of their own would be a second way to refuse."""
    source = adapter.read_text()
    assert refusal_subclasses(ast.parse(source)) == []
    assert refusal_constructions(adapter) == []
    assert "RefusalCode" not in source
