"""`make lint`: no sleep used as synchronisation in the tests.

A test waits for a condition (Harness.until, BotApi.wait_for), never for time to pass. A
sleep is allowed only as the pause of a `while` loop that re-checks a condition (the
harness's own polling), and in the Bot API stand-in, which simulates Telegram's latency.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

TESTS = Path(__file__).parent
SIMULATES_TIME = {"botapi.py", "no_sleeps.py"}


def sleeps_outside_loops(tree: ast.AST) -> list[int]:
    """Line numbers of sleep calls that are not inside a loop."""
    found: list[int] = []

    def visit(node: ast.AST, in_loop: bool) -> None:
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if name == "sleep" and not in_loop:
                found.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            entering = isinstance(child, ast.While | ast.For | ast.AsyncFor)
            leaving = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, (in_loop or entering) and not leaving)

    visit(tree, False)
    return found


def main() -> int:
    problems = [
        f"{path.relative_to(TESTS.parent)}:{line}: a sleep used as synchronisation"
        for path in sorted(TESTS.glob("*.py"))
        if path.name not in SIMULATES_TIME
        for line in sleeps_outside_loops(ast.parse(path.read_text(), str(path)))
    ]
    print("\n".join(problems) or "no sleeps used as synchronisation in tests/")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
