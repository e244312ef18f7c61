"""The import graph of the code, read from the source with `ast` (nothing is imported), and
the "forbidden import" rules the import contract checks against it.

Every `import` and `from … import` statement counts, wherever it stands: at the top of a
module, inside a function (a lazy import still runs in the deployed function) or under
`if TYPE_CHECKING:` (a type-only import still ties the layers together).

A rule names source modules and forbidden modules by dotted prefix (`runhook.api` is the
package and everything under it); a forbidden module can be internal (`runhook.api`) or a
third-party distribution (`boto3`). A direct rule looks at the sources' own imports; a
transitive rule follows imports through any number of internal modules and reports the
chain, hop by hop, with the file and line of each import.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


def within(name: str, prefixes: Iterable[str]) -> bool:
    """`name` is one of `prefixes` or a submodule of one."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # an internal module, or the full dotted name of an external one
    file: Path
    line: int

    def describe(self, root: Path) -> str:
        try:
            where = self.file.relative_to(root)
        except ValueError:
            where = self.file
        return f"{where}:{self.line} ({self.importer} imports {self.imported})"


@dataclass(repr=False)
class ImportGraph:
    """Modules (dotted name → file) and the imports each one makes."""

    modules: dict[str, Path] = field(default_factory=dict)
    imports: dict[str, list[Import]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, packages: Mapping[str, Path], scripts: Mapping[str, Path] | None = None
    ) -> ImportGraph:
        """`packages`: top-level package name → its folder; `scripts`: module name → file for
        code outside any package (functions/<name>/app.py as `functions.<name>.app`)."""
        graph = cls()
        for name, folder in packages.items():
            for file in sorted(folder.rglob("*.py")):
                if "__pycache__" in file.parts:
                    continue
                parts = [name, *file.relative_to(folder).with_suffix("").parts]
                if parts[-1] == "__init__":
                    parts.pop()
                graph.modules[".".join(parts)] = file
        graph.modules.update(scripts or {})
        for module, file in graph.modules.items():
            graph.imports[module] = list(graph._read(module, file))
        return graph

    def _read(self, module: str, file: Path) -> Iterable[Import]:
        tree = ast.parse(file.read_text(), filename=str(file))
        is_package = file.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(module, self._resolve(alias.name), file, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(module, is_package, node.level, node.module)
                for alias in node.names:
                    candidate = f"{base}.{alias.name}" if base else alias.name
                    target = candidate if candidate in self.modules else self._resolve(base)
                    yield Import(module, target, file, node.lineno)

    def _resolve(self, name: str) -> str:
        """The most specific internal module `name` points at (or `name`, if external)."""
        parts = name.split(".")
        while parts:
            candidate = ".".join(parts)
            if candidate in self.modules:
                return candidate
            parts.pop()
        return name

    def __repr__(self) -> str:
        return f"<ImportGraph of {len(self.modules)} modules>"

    def matching(self, prefixes: Iterable[str]) -> list[str]:
        return sorted(m for m in self.modules if within(m, prefixes))


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of a (possibly relative) `from` import in `module`."""
    if level == 0:
        return name or ""
    parts = module.split(".")
    if not is_package:
        parts.pop()
    parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*parts, name] if name else parts)


@dataclass(frozen=True)
class Rule:
    """`sources` (minus `exempt`) must not import `forbidden`, directly or (when
    `transitive`) through other modules. `why` is the reason, shown on a failure."""

    name: str
    sources: tuple[str, ...]
    forbidden: tuple[str, ...]
    why: str
    exempt: tuple[str, ...] = ()
    transitive: bool = True

    def applies_to(self, module: str) -> bool:
        return within(module, self.sources) and not within(module, self.exempt)


def unmatched_patterns(graph: ImportGraph, rule: Rule) -> list[str]:
    """Source patterns that name no module: a renamed package would make the rule vacuous."""
    return [p for p in rule.sources if not graph.matching([p])]


def violations(graph: ImportGraph, rule: Rule, root: Path) -> list[str]:
    """One line per offending import chain (deduplicated by the import that leaves the
    rule's sources, so one bad import is reported once, not once per module above it)."""
    starts = [m for m in graph.modules if rule.applies_to(m)]
    parent: dict[str, Import | None] = dict.fromkeys(starts)
    queue = deque(starts)
    found: dict[tuple[str, str], str] = {}
    while queue:
        module = queue.popleft()
        for edge in graph.imports.get(module, []):
            if within(edge.imported, rule.forbidden):
                chain = _chain(parent, edge)
                key = _blame(chain, rule)
                found.setdefault((key.importer, key.imported), _explain(chain, root))
            elif rule.transitive and edge.imported in graph.modules and edge.imported not in parent:
                parent[edge.imported] = edge
                queue.append(edge.imported)
    return [found[k] for k in sorted(found)]


def _chain(parent: Mapping[str, Import | None], last: Import) -> list[Import]:
    chain = [last]
    step = parent.get(last.importer)
    while step is not None:
        chain.append(step)
        step = parent.get(step.importer)
    return chain[::-1]


def _blame(chain: list[Import], rule: Rule) -> Import:
    """The first import of the chain that leaves the rule's sources (else the last one)."""
    return next((e for e in chain if not rule.applies_to(e.imported)), chain[-1])


def _explain(chain: list[Import], root: Path) -> str:
    head = f"{chain[0].importer} -> " + " -> ".join(e.imported for e in chain)
    hops = "; ".join(e.describe(root) for e in chain)
    return f"{head}  [{hops}]"
