"""A custom import-linter contract: bounded contexts may not import each other both ways,
except the pairs the contract names (each with its reason). Used by `pyproject.toml`'s
[tool.importlinter] (scripts/test puts this folder on PYTHONPATH)."""

from __future__ import annotations

from importlinter import Contract, ContractCheck, fields, output


def _within(module: str, packages: tuple[str, ...]) -> bool:
    """`module` is one of `packages` or inside one of them (ltc.applications is not ltc.app)."""
    return any(module == package or module.startswith(package + ".") for package in packages)


class MutualImportsContract(Contract):
    """Options: `contexts` (packages), `allowed` ("a <-> b: why" lines)."""

    type_name = "mutual_imports"

    contexts = fields.ListField(subfield=fields.StringField())
    allowed = fields.ListField(subfield=fields.StringField(), required=False)

    def _allowed_pairs(self) -> set[frozenset[str]]:
        pairs = set()
        for line in self.allowed or []:  # type: ignore[union-attr]
            left, _, right = line.partition(":")[0].partition("<->")
            pairs.add(frozenset({left.strip(), right.strip()}))
        return pairs

    def check(self, graph, verbose: bool) -> ContractCheck:
        contexts: list[str] = list(self.contexts)  # type: ignore[arg-type]
        imports: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for importer in contexts:
            for module in graph.find_descendants(importer) | {importer}:
                for imported in graph.find_modules_directly_imported_by(module):
                    for target in contexts:
                        if target != importer and (imported == target
                                                   or imported.startswith(target + ".")):
                            imports.setdefault((importer, target), []).append((module, imported))
        allowed = self._allowed_pairs()
        mutual = sorted({tuple(sorted(pair)) for pair in imports
                         if (pair[1], pair[0]) in imports})
        broken = [pair for pair in mutual if frozenset(pair) not in allowed]
        unused = sorted(tuple(sorted(pair)) for pair in allowed
                        if tuple(sorted(pair)) not in mutual)
        return ContractCheck(kept=not broken and not unused, metadata={
            "broken": [(a, b, imports[(a, b)], imports[(b, a)]) for a, b in broken],
            "unused": unused})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for a, b, forth, back in check.metadata["broken"]:
            output.print_error(f"{a} and {b} import each other:")
            for importer, imported in forth + back:
                output.indent_cursor()
                output.print_error(f"{importer} -> {imported}", bold=False)
            output.new_line()
        for a, b in check.metadata["unused"]:
            output.print_error(f"allowed pair {a} <-> {b} no longer imports both ways: "
                               "remove it from the contract")


class OwnTablesContract(Contract):
    """A context's tables are read and written by that context only. Other contexts read its
    `interface.py`. Allowed besides: tables modules (foreign keys), the `app_modules` (wiring:
    migrations, reference data), and the listed `exceptions` ("importer -> imported: why"),
    which the contract also reports once they are no longer needed."""

    type_name = "own_tables"

    contexts = fields.ListField(subfield=fields.StringField())
    app_modules = fields.ListField(subfield=fields.StringField(), required=False)
    exceptions = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph, verbose: bool) -> ContractCheck:
        contexts: list[str] = list(self.contexts)  # type: ignore[arg-type]
        app = tuple(self.app_modules or [])  # type: ignore[arg-type]
        listed = {line.partition(":")[0].replace(" ", "") for line in self.exceptions or []}  # type: ignore[union-attr]
        found: set[str] = set()
        for owner in contexts:
            tables = f"{owner}.tables"
            if tables not in graph.modules:
                continue
            for importer in graph.find_modules_that_directly_import(tables):
                if (_within(importer, (owner,)) or importer.endswith(".tables")
                        or _within(importer, app)):
                    continue
                found.add(f"{importer}->{tables}")
        return ContractCheck(kept=found <= listed and listed <= found, metadata={
            "new": sorted(found - listed), "stale": sorted(listed - found)})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for line in check.metadata["new"]:
            output.print_error(f"{line.replace('->', ' -> ')}: read the owner's interface.py")
        for line in check.metadata["stale"]:
            output.print_error(f"{line.replace('->', ' -> ')} is gone: remove the exception")


class NoCyclesContract(Contract):
    """No module imports itself through others (an import circle), at any depth; functions'
    deferred imports count too."""

    type_name = "no_cycles"

    def check(self, graph, verbose: bool) -> ContractCheck:
        modules = sorted(graph.modules)
        edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
        circles = _strongly_connected(modules, edges)
        return ContractCheck(kept=not circles, metadata={"circles": circles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for circle in check.metadata["circles"]:
            output.print_error("an import circle: " + " <-> ".join(circle))


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the groups of two or more modules importing each other
    around a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups
