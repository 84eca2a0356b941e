"""Inside the kernel: run a ``nbmlops:gate`` cell, recording each assertion instead of crashing.

``nbmlops.run_notebook`` rewrites a gate cell as ``%%nbmlops_gate --cell N`` + its source. The
magic runs the cell's top-level statements one at a time in the user namespace (with IPython's
own transformations, never a nested ``run_cell``). An ``assert`` that holds is recorded as a
passed check, one that fails (or any statement raising ``AssertionError``) as a failed check,
and the next statement still runs. Other exceptions propagate: a gate that cannot be evaluated
is an execution failure, not a pass.

Results are appended as JSON lines to the file named by ``NBMLOPS_GATE_FILE`` (set by
``run_notebook``). Without it (running the cell by hand) a failed check raises
``AssertionError`` after every statement has run, as a plain cell of asserts would.
"""

from __future__ import annotations

import ast
import json
import os
import sys

GATE_FILE_ENV = "NBMLOPS_GATE_FILE"


def _statement_text(source: str, stmt: ast.stmt) -> str:
    text = ast.get_source_segment(source, stmt) or ast.unparse(stmt)
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 200 else first[:197] + "..."


def run_gate_cell(shell, cell: str, cell_index: int | None) -> list[dict]:
    """Run ``cell`` statement by statement in ``shell``; return one record per check."""
    __tracebackhide__ = True  # noqa: F841
    transformed = shell.transform_cell(cell)
    filename = shell.compile.cache(transformed, shell.execution_count, raw_code=cell)
    tree = shell.compile.ast_parse(transformed, filename=filename)
    checks: list[dict] = []
    body = list(tree.body)
    for position, stmt in enumerate(body):
        is_last_expr = position == len(body) - 1 and isinstance(stmt, ast.Expr)
        if is_last_expr:
            code = shell.compile(ast.Interactive(body=[stmt]), filename, "single")
        else:
            code = shell.compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec")
        text = _statement_text(transformed, stmt)
        try:
            exec(code, shell.user_global_ns, shell.user_ns)  # noqa: S102
        except AssertionError as exc:
            checks.append(_check(cell_index, stmt, text, False, str(exc)))
            continue
        if isinstance(stmt, ast.Assert):
            checks.append(_check(cell_index, stmt, text, True, ""))
    _report(checks, cell_index)
    return checks


def _check(cell_index, stmt, text, passed, message) -> dict:
    return {
        "cell": cell_index,
        "line": getattr(stmt, "lineno", None),
        "check": text,
        "passed": passed,
        "message": message,
    }


def _report(checks: list[dict], cell_index: int | None) -> None:
    failed = [c for c in checks if not c["passed"]]
    where = f"cell {cell_index}" if cell_index is not None else "gate cell"
    head = f"nbmlops gate ▸ {where}: {len(checks) - len(failed)} of {len(checks)} checks passed"
    lines = [head] + [
        f"  [{'PASS' if c['passed'] else 'FAIL'}] {c['check']}"
        + (f" — {c['message']}" if c["message"] else "")
        for c in checks
    ]
    print("\n".join(lines), file=sys.stderr if failed else sys.stdout)
    target = os.environ.get(GATE_FILE_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            for check in checks:
                handle.write(json.dumps(check) + "\n")
    elif failed:
        raise AssertionError(f"{len(failed)} gate check(s) failed in {where}")


def read_gate_file(path: str | os.PathLike) -> list[dict]:
    """The records the gate cells of one run wrote (none if the file does not exist)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []
