"""The house's arrows point one way (ARCHITECTURE.md, Layout): web and api → the domain
packages → engine, legaltime, policy, audit → db and the base modules; and no module imports
itself round a cycle. Every import counts, also one inside a function.

Within a layer the packages are ranked too (the demo city above the flows, the flows above the
catalogue, the catalogue above the organisation; policy above legal time): a package imports
only packages ranked below it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
# The composition root and the model registry see every package by design.
EXEMPT = {"app", "app.models"}
# Lowest first. Packages on one line may not import each other.
RANKS = [
    {"clock", "config", "errors", "i18n_vocabulary", "safe_input", "tabular"},
    {"validation"},
    {"period_input"},
    {"extensions"},
    {"db", "limits"},
    {"audit"}, {"legaltime"}, {"policy"}, {"engine"},                        # lower layer
    {"org"}, {"catalog"}, {"notifications"}, {"sla"}, {"flows"}, {"demo"},   # domain
    {"api"}, {"web"},                                                         # top
]
RANK = {package: rank for rank, packages in enumerate(RANKS) for package in packages}
TOP = {"web", "api"}
DOMAIN = {"org", "catalog", "notifications", "sla", "flows", "demo"}
LOWER = {"audit", "legaltime", "policy", "engine"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in APP.rglob("*.py")}


def _target(name: str) -> str | None:
    """The app module an import names (a name imported from a package is its submodule when
    there is one)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        else:
            continue
        for name in names:
            target = _target(name) if name.startswith("app") else None
            if target and target != module:
                found.add(target)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _arrows(sources: set[str], targets: set[str]) -> list[str]:
    return sorted(f"{m} → {t}" for m, ts in GRAPH.items() if m not in EXEMPT
                  and _package(m) in sources for t in ts if _package(t) in targets)


def test_the_rules_see_the_whole_app():
    assert len(MODULES) > 100 and {"app.engine.runtime", "app.web", "app.db.transaction"} <= set(MODULES)
    assert "app.engine.step" in GRAPH["app.engine.timers"]  # a plain import is seen
    assert "app.flows.cli" in GRAPH["app.flows"]  # so is one inside a function


def test_no_domain_package_imports_web_or_api():
    assert _arrows(DOMAIN | LOWER, TOP) == []


def test_the_engine_and_the_lower_packages_know_nothing_of_the_domain():
    assert _arrows(LOWER, DOMAIN) == []


def test_the_base_modules_import_no_package_above_them():
    base = set(RANK) - TOP - DOMAIN - LOWER
    assert _arrows(base, TOP | DOMAIN | LOWER) == []


def test_every_package_is_ranked():
    assert {_package(m) for m in MODULES if m not in EXEMPT} == set(RANK)


def test_no_package_imports_one_ranked_above_or_beside_it():
    upward = sorted(f"{m} → {t}" for m, targets in GRAPH.items() if m not in EXEMPT
                    for t in targets if _package(t) != _package(m)
                    and RANK[_package(t)] >= RANK[_package(m)])
    assert upward == []


def _cycle_from(start: str) -> list[str] | None:
    path, on_path, done = [start], {start}, set()

    def visit(module: str) -> list[str] | None:
        for target in sorted(GRAPH.get(module, ())):
            if target in EXEMPT or target in done:
                continue
            if target in on_path:
                return path[path.index(target):] + [target]
            path.append(target)
            on_path.add(target)
            if found := visit(target):
                return found
            on_path.discard(path.pop())
        done.add(module)
        return None
    return visit(start)


@pytest.mark.parametrize("start", sorted(m for m in MODULES if m not in EXEMPT))
def test_no_import_cycle(start):
    cycle = _cycle_from(start)
    assert cycle is None, " → ".join(cycle)
