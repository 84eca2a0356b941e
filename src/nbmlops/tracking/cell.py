"""What a ``%%track`` cell assigns and reads, found from its syntax tree before it runs.

The capture rules (documented in docs/tracking.md):

- *params*: names assigned at the cell's top level (``x = …``, ``x: int = …``, including
  inside top-level ``if``/``for``/``with``/``try`` blocks, never inside ``def``/``class``) whose
  every assignment is a literal: ``C = 0.5``, ``layers = [64, 32]``, ``a, b = 1, 2``.
- *metric candidates*: names assigned at the top level with at least one computed value
  (``accuracy = model.score(X, y)``, ``n += 1``); they become metrics if their final value is a
  real number.
- *reads*: names the cell loads before any top-level statement of the cell assigns them;
  DataFrames, Series and arrays among them are the run's inputs.
- *needs*: names the cell reads that must exist before it runs: like *reads*, but a name
  bound by the reading statement itself (a ``for`` target, a comprehension variable, a
  function's own arguments and locals) is not needed, while ``n += 1`` needs ``n``. The values
  of simple ones are recorded as inherited params so the cell can be reproduced alone.
- *fits*: ``est.fit(A, B)`` (and ``fit_transform``, ``fit_predict``, ``partial_fit``) calls,
  mapping the estimator's name to the names of the data passed in.
"""

from __future__ import annotations

import ast
import dataclasses

FIT_METHODS = frozenset({"fit", "fit_transform", "fit_predict", "partial_fit"})
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


@dataclasses.dataclass
class CellPlan:
    """The result of analysing one cell."""

    params: list[str] = dataclasses.field(default_factory=list)
    computed: list[str] = dataclasses.field(default_factory=list)
    assigned: list[str] = dataclasses.field(default_factory=list)
    reads: list[str] = dataclasses.field(default_factory=list)
    needs: list[str] = dataclasses.field(default_factory=list)
    fits: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def _is_literal(node: ast.AST | None) -> bool:
    if node is None:
        return False
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _target_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []  # attributes and subscripts modify objects, they do not bind names


def _walk_scope(node: ast.AST):
    """Like ``ast.walk`` but does not enter function, class or lambda bodies."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, _SCOPES):
            continue  # a top-level def or class: its body is its own scope
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, _SCOPES):
                stack.append(child)


def _loads(node: ast.AST) -> list[str]:
    """Names loaded anywhere in ``node`` (function bodies included: they read globals too)."""
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _bound_in(node: ast.AST) -> set[str]:
    """Names a function, lambda, class or comprehension binds for itself."""
    names: set[str] = set()
    args = getattr(node, "args", None)
    if isinstance(args, ast.arguments):
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        names.update(a.arg for a in every if a is not None)
    body = getattr(node, "body", [])
    body = body if isinstance(body, list) else [body]
    for part in [*body, *getattr(node, "generators", [])]:
        for sub in ast.walk(part):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, ast.alias):
                names.add((sub.asname or sub.name).partition(".")[0])
    return names


def _free_loads(node: ast.AST) -> list[str]:
    """Names ``node`` loads that it does not bind in an inner scope of its own."""
    if isinstance(node, ast.Name):
        return [node.id] if isinstance(node.ctx, ast.Load) else []
    out: list[str] = []
    for child in ast.iter_child_nodes(node):
        out += _free_loads(child)
    if isinstance(node, (*_SCOPES, *_COMPREHENSIONS)):
        bound = _bound_in(node)
        out = [n for n in out if n not in bound]
    return out


def _needs(stmt: ast.stmt) -> list[str]:
    """Names ``stmt`` needs bound before it runs."""
    try:
        names = _free_loads(stmt)
    except RecursionError:  # a very deep expression: every name it loads
        names = _loads(stmt)
    if isinstance(stmt, ast.AugAssign):
        names = _target_names(stmt.target) + names
    elif not isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.Expr, ast.Return, ast.Delete)):
        # A compound statement (for, with, if, try …) binds before it reads inside: the loop
        # variable is not needed from earlier cells.
        own = _binds(stmt)
        updated = [
            n
            for node in _walk_scope(stmt)
            if isinstance(node, ast.AugAssign)
            for n in _target_names(node.target)
        ]
        names = updated + [n for n in names if n not in own]
    return names


def _binds(stmt: ast.stmt) -> set[str]:
    """Names ``stmt`` binds in the cell's scope: assignments, defs, classes, imports."""
    names = set(_stores(stmt))
    for node in _walk_scope(stmt):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).partition(".")[0])
    return names


def _stores(node: ast.AST) -> list[str]:
    return [
        n.id for n in _walk_scope(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    ]


def _base_name(node: ast.AST) -> str | None:
    """``model`` for ``model.fit``, ``self.model.fit`` → ``self``; None for call chains."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _fit_args(call: ast.Call) -> list[str]:
    names = [a.id for a in call.args if isinstance(a, ast.Name)]
    names += [
        k.value.id for k in call.keywords if k.arg in ("X", "y") and isinstance(k.value, ast.Name)
    ]
    return names


def _fit_call(node: ast.AST) -> ast.Call | None:
    """The ``….fit(…)`` call at the end of a call chain, e.g. ``LR(C=1).fit(X, y)``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in FIT_METHODS
    ):
        return node
    return None


def analyze(tree: ast.Module) -> CellPlan:
    """Analyse a parsed (IPython-transformed) cell."""
    plan = CellPlan()
    literal_only: dict[str, bool] = {}
    order: list[str] = []
    assigned_so_far: set[str] = set()
    reads: list[str] = []
    needs: list[str] = []
    bound_so_far: set[str] = set()

    def bind(name: str, literal: bool) -> None:
        if name not in literal_only:
            order.append(name)
            literal_only[name] = literal
        else:
            literal_only[name] = literal_only[name] and literal

    for stmt in tree.body:
        for name in _loads(stmt):
            if name not in assigned_so_far and name not in reads:
                reads.append(name)
        for name in _needs(stmt):
            if name not in bound_so_far and name not in needs:
                needs.append(name)
        bound_so_far.update(_binds(stmt))
        for node in _walk_scope(stmt):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    for name in _target_names(target):
                        bind(name, _is_literal(node.value))
                fit = _fit_call(node.value)
                if fit is not None:
                    for target in node.targets:
                        for name in _target_names(target):
                            plan.fits[name] = _fit_args(fit)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                for name in _target_names(node.target):
                    bind(name, _is_literal(node.value))
            elif isinstance(node, ast.AugAssign):
                for name in _target_names(node.target):
                    bind(name, False)
            elif isinstance(node, ast.Call):
                fit = _fit_call(node)
                base = _base_name(fit.func.value) if fit is not None else None
                if fit is not None and base is not None:
                    plan.fits.setdefault(base, _fit_args(fit))
        assigned_so_far.update(_stores(stmt))

    plan.assigned = order
    plan.params = [n for n in order if literal_only[n]]
    plan.computed = [n for n in order if not literal_only[n]]
    plan.reads = reads
    plan.needs = needs
    return plan
