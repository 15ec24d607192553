"""The jobs' dependency graph: ``${{parent.jobs.<job>.outputs.<o>}}`` edges, an order, cycles named."""

from __future__ import annotations

from typing import Any

from tenantml.bindings import BINDING
from tenantml.loading.schema import Problems
from tenantml.suggest import did_you_mean
from tenantml.yamlio import YamlMap


def dependency_order(nodes: dict[str, YamlMap], jobs_raw: YamlMap,
                     problems: Problems) -> tuple[list[str], dict[str, set[str]]]:
    """Jobs in an order where every job comes after those whose outputs it reads, and each job's upstreams."""
    deps: dict[str, set[str]] = {}
    for name, node in nodes.items():
        deps[name] = set()
        for expr, line in bindings_in(node.get("inputs"), node.line_of("inputs")):
            parts = expr.split(".")
            if parts[:2] != ["parent", "jobs"]:
                continue
            if len(parts) != 5 or parts[3] != "outputs":
                problems.add(f"'${{{{{expr}}}}}' is not a job output binding; write "
                             "${{parent.jobs.<job>.outputs.<output>}}.", key=f"jobs.{name}.inputs", line=line)
                continue
            if parts[2] not in nodes and parts[2] in jobs_raw:
                continue  # a job whose own definition is reported: no second problem here
            if parts[2] not in nodes:
                problems.add(f"'${{{{{expr}}}}}' names job '{parts[2]}', which the pipeline does not have; "
                             f"{did_you_mean(parts[2], nodes)}", key=f"jobs.{name}.inputs", line=line,
                             fix="correct the job name")
                continue
            deps[name].add(parts[2])
    order: list[str] = []
    remaining = {n: set(d) for n, d in deps.items()}
    while remaining:
        ready = [n for n in nodes if n in remaining and not remaining[n]]
        if not ready:
            cycle = find_cycle(remaining)
            problems.add("the jobs depend on each other in a cycle: " + " -> ".join(cycle) + ".",
                         key=f"jobs.{cycle[0]}", line=jobs_raw.line_of(cycle[0]),
                         fix="a job can only read outputs of jobs that do not read its own outputs")
            return order, {}
        for n in ready:
            order.append(n)
            del remaining[n]
            for other in remaining.values():
                other.discard(n)
    return order, deps


def bindings_in(value: Any, line: int | None) -> list[tuple[str, int | None]]:
    found: list[tuple[str, int | None]] = []
    if isinstance(value, YamlMap):
        for k, v in value.items():
            found += bindings_in(v, value.line_of(k))
    elif isinstance(value, list):
        for v in value:
            found += bindings_in(v, line)
    elif isinstance(value, str):
        found += [(expr, line) for expr in BINDING.findall(value)]
    return found


def find_cycle(deps: dict[str, set[str]]) -> list[str]:
    start = next(iter(deps))
    path, seen = [start], {start}
    node = start
    while True:
        node = sorted(deps[node])[0]
        if node in seen:
            return path[path.index(node):] + [node]
        path.append(node)
        seen.add(node)
