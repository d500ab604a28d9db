"""Every audit action kind the code can record has a Chinese label on the timelines
(ltc.web.timeline.ACTION_LABELS): found statically by reading every call of ltc.audit's
record functions, following an action built from a variable, an f-string or a
concatenation back to the strings passed in (through parameters, assignments, loops,
conditionals and dict look-ups). tests/e2e/test_browser_demo checks the kinds a whole demo
county records, too."""

from __future__ import annotations

import ast
import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ltc.enrollment.events import KINDS as ENROLLMENT_EVENT_KINDS
from ltc.payouts.service import DEPOSIT_ACTIONS
from ltc.returnvisits.rules import Outcome
from ltc.spotchecks.rules import Finding
from ltc.web.timeline import ACTION_LABELS

ROOT = Path(__file__).resolve().parents[2] / "ltc"
RECORDERS = {"record", "record_list_read"}  # ltc.audit.service's functions taking an action
ACTION_ARG = 1  # record(actor, action, …) and record_list_read(actor, action, …)
DEPTH = 6

# Placeholders no static reading can follow (a value read from a request or the database,
# checked against a list before it is recorded), by (module, action template): that list.
DOMAINS = {
    ("ltc/enrollment/events.py", "enrollment.{}"): set(ENROLLMENT_EVENT_KINDS),
    ("ltc/payouts/service.py", "deposit.{}"): set(DEPOSIT_ACTIONS),
    ("ltc/spotchecks/service.py", "spotcheck.{}"): {str(finding) for finding in Finding},
    ("ltc/returnvisits/service.py", "returnvisit.{}"): {str(outcome) for outcome in Outcome},
}

Function = ast.FunctionDef | ast.AsyncFunctionDef


class Unresolved(Exception):
    pass


@dataclass
class Module:
    path: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST]

    @classmethod
    def parse(cls, path: str, source: str) -> Module:
        tree = ast.parse(source)
        return cls(path, tree, {child: node for node in ast.walk(tree)
                                for child in ast.iter_child_nodes(node)})

    def function_of(self, node: ast.AST) -> Function | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return node
        return None


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _argument(call: ast.Call, position: int, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if position < len(call.args) and not any(isinstance(a, ast.Starred)
                                             for a in call.args[:position + 1]):
        return call.args[position]
    return None


def _template(node: ast.expr) -> str:
    if isinstance(node, ast.JoinedStr):
        return "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in node.values)
    return "{}"


class Scanner:
    def __init__(self, modules: list[Module], domains: dict[tuple[str, str], set[str]]
                 ) -> None:
        self.modules = modules
        self.domains = domains

    def recorded_actions(self) -> tuple[set[str], list[str]]:
        """(every action kind found, the calls whose action could not be followed)."""
        actions: set[str] = set()
        unresolved: list[str] = []
        for module in self.modules:
            if module.path == "ltc/audit/service.py":
                continue  # the definitions: record_list_read passes its own parameter on
            for node in ast.walk(module.tree):
                if not (isinstance(node, ast.Call) and _callee(node) in RECORDERS):
                    continue
                action = _argument(node, ACTION_ARG, "action")
                if action is None:
                    continue
                try:
                    actions |= self.values(module, action)
                except Unresolved as exc:
                    domain = self.domains.get((module.path, _template(action)))
                    if domain is None:
                        unresolved.append(f"{module.path}:{node.lineno} "
                                          f"{ast.unparse(action)} ({exc})")
                    else:
                        actions |= {_template(action).replace("{}", v) for v in domain}
        return {a for a in actions if "." in a}, unresolved

    def values(self, module: Module, node: ast.expr, depth: int = 0) -> set[str]:
        """Every string `node` can evaluate to, or Unresolved."""
        if depth > DEPTH:
            raise Unresolved(ast.unparse(node))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return self.values(module, node.body, depth) | self.values(module, node.orelse,
                                                                       depth)
        if isinstance(node, ast.BoolOp):
            return set().union(*(self.values(module, v, depth) for v in node.values))
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return set().union(*(self.values(module, e, depth) for e in node.elts))
        if isinstance(node, ast.JoinedStr):
            parts = [{p.value} if isinstance(p, ast.Constant)
                     else self.values(module, p.value, depth) for p in node.values]
            return {"".join(choice) for choice in itertools.product(*parts)}
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return {a + b for a in self.values(module, node.left, depth)
                    for b in self.values(module, node.right, depth)}
        if isinstance(node, ast.Name):
            return self._name_values(module, node, depth)
        if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
            return set().union(*(self.values(module, v, depth) for v in node.values))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get" and isinstance(node.func.value, ast.Dict)):
            # {…}.get(key, default): any of the values, or the default
            return self.values(module, node.func.value, depth) | set().union(
                *(self.values(module, a, depth) for a in node.args[1:]))
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Dict):
            return self.values(module, node.value, depth)
        raise Unresolved(ast.unparse(node))

    def _name_values(self, module: Module, node: ast.Name, depth: int) -> set[str]:
        function = module.function_of(node)
        scope = function if function is not None else module.tree
        found: set[str] = set()
        bound = False
        for inner in ast.walk(scope):
            if isinstance(inner, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == node.id for t in inner.targets):
                found |= self.values(module, inner.value, depth + 1)
                bound = True
            elif isinstance(inner, (ast.For, ast.comprehension)) and isinstance(
                    inner.target, ast.Name) and inner.target.id == node.id:
                found |= self.values(module, inner.iter, depth + 1)
                bound = True
        if function is not None:
            arguments = function.args
            names = [a.arg for a in [*arguments.posonlyargs, *arguments.args,
                                     *arguments.kwonlyargs]]
            if node.id in names:
                bound = True
                found |= self._parameter_values(module, function, node.id, depth)
        if not bound:
            raise Unresolved(node.id)
        return found

    def _calls_named(self, name: str, defined_in: Module) -> Iterator[tuple[Module, ast.Call]]:
        """Calls of a function by its name: anywhere, or in its own module when private."""
        for module in [defined_in] if name.startswith("_") else self.modules:
            for node in ast.walk(module.tree):
                if isinstance(node, ast.Call) and _callee(node) == name:
                    yield module, node

    def _parameter_values(self, module: Module, function: Function, name: str,
                          depth: int) -> set[str]:
        """What the callers pass for a parameter (and its default)."""
        arguments = function.args
        positional = [a.arg for a in [*arguments.posonlyargs, *arguments.args]]
        position = positional.index(name) if name in positional else 10_000
        method = bool(positional) and positional[0] in ("self", "cls")
        found: set[str] = set()
        defaults = dict(zip(positional[len(positional) - len(arguments.defaults):],
                            arguments.defaults, strict=True))
        defaults |= {a.arg: d for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults,
                                              strict=True) if d is not None}
        if name in defaults:
            found |= self.values(module, defaults[name], depth + 1)
        callers = list(self._calls_named(function.name, module))
        if not callers:
            raise Unresolved(f"{function.name}({name}) is never called")
        for caller_module, call in callers:
            value = _argument(call, position - int(method), name)
            if value is not None:
                found |= self.values(caller_module, value, depth + 1)
        return found


@functools.cache
def _code() -> list[Module]:
    return [Module.parse(str(file.relative_to(ROOT.parent)), file.read_text(encoding="utf-8"))
            for file in sorted(ROOT.rglob("*.py")) if "migrations" not in file.parts]


def test_the_scan_follows_actions_built_from_parameters_loops_and_strings() -> None:
    sample = Module.parse("ltc/sample.py", '''
async def _change(actor, row, kind, note=""):
    await audit.record(actor, f"thing.{kind}", "thing", row, note=note)

async def act(actor, row, ok, data):
    await _change(actor, row, "made" if ok else "dropped")
    for verb in ("opened", "shut"):
        await audit.record(actor, "door." + verb, "door", row)
    await audit_service.record(actor, {"A": "lamp.on"}.get(row, "lamp.off"), "lamp", row)
    await audit.record_list_read(actor, "thing.exported", "thing_list", {})
    await audit.record(actor, f"mystery.{data['kind']}", "thing", row)
''')
    actions, unresolved = Scanner([sample], {}).recorded_actions()
    assert actions == {"thing.made", "thing.dropped", "door.opened", "door.shut", "lamp.on",
                       "lamp.off", "thing.exported"}
    assert [u.split(" ")[0] for u in unresolved] == ["ltc/sample.py:11"]
    known = Scanner([sample], {("ltc/sample.py", "mystery.{}"): {"a"}}).recorded_actions()
    assert "mystery.a" in known[0] and known[1] == []


def test_every_recorded_action_can_be_followed() -> None:
    _, unresolved = Scanner(list(_code()), DOMAINS).recorded_actions()
    assert unresolved == [], ("audit actions this test cannot follow; pass a literal, or add "
                              "the values to DOMAINS: " + "; ".join(unresolved))


def test_every_recorded_action_has_a_chinese_label() -> None:
    actions, _ = Scanner(list(_code()), DOMAINS).recorded_actions()
    assert len(actions) > 100  # the scan found the calls
    assert {"entitlement.started", "payout_batch.approved", "agreement.activated",
            "notice.objection_received", "decision.made", "application.withdrawn"} <= actions
    assert sorted(actions - ACTION_LABELS.keys()) == []
