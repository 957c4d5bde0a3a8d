"""Write realistic synthetic deploy notebooks for the benchmarks (deterministic for a size).

Each notebook has a parameters cell, then sections under markdown headings whose code cells
define helpers, build lists and dicts with comprehensions, loop with branches, call earlier
helpers, carry the odd notebook-only magic and, now and then, an unmarked exploration cell.
Every deploy cell reads names that earlier cells bound, so the build has real data flow to do.

    python benchmarks/generate.py OUT_DIR [--cells 50 200 2000]
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path

SIZES = (50, 200, 2000)
CELLS_PER_SECTION = 5


def _define(i: int, rng: random.Random, names: list[str]) -> str:
    k = rng.randint(2, 9)
    return (
        f"def feature_{i}(rows, scale={k}):\n"
        f'    """Scale the positive rows and clip them at {k * 10}."""\n'
        "    out = []\n"
        "    for row in rows:\n"
        "        if row > 0:\n"
        f"            out.append(min(row * scale, {k * 10}))\n"
        "        else:\n"
        "            out.append(0)\n"
        "    return out\n"
    )


def _values(i: int, rng: random.Random, names: list[str]) -> str:
    source = rng.choice(names[-6:])
    return (
        f"values_{i} = [x % {rng.randint(3, 17)} - {rng.randint(1, 5)} for x in {source}]\n"
        f"values_{i} = sorted(set(values_{i}))\n"
    )


def _loop(i: int, rng: random.Random, names: list[str]) -> str:
    source = rng.choice(names[-6:])
    return (
        f"total_{i} = 0\n"
        f"for position, value in enumerate({source}):\n"
        f"    if value % {rng.randint(2, 5)} == 0:\n"
        f"        total_{i} += value * position\n"
        f"    elif value < 0:\n"
        f"        total_{i} -= 1\n"
        f"values_{i} = [total_{i} + v for v in {source}][: n_rows]\n"
    )


def _table(i: int, rng: random.Random, names: list[str]) -> str:
    source = rng.choice(names[-6:])
    return (
        f"table_{i} = {{str(key): [v for v in {source} if v % {rng.randint(2, 4)} == key]"
        f" for key in range({rng.randint(2, 6)})}}\n"
        f"values_{i} = [len(rows) for rows in table_{i}.values()] + list({source})\n"
        f"print(len(values_{i}))\n"
    )


def _call(i: int, rng: random.Random, names: list[str], helpers: list[int]) -> str:
    source = rng.choice(names[-6:])
    helper = helpers[-1] if helpers else None
    apply = f"feature_{helper}({source})" if helper is not None else f"list({source})"
    return (
        f"values_{i} = {apply}\n"
        f"summary_{i} = {{'count': len(values_{i}), 'top': max(values_{i}, default=0)}}\n"
        f"values_{i} = values_{i} + [summary_{i}['top'] * seed]\n"
    )


def _magic(i: int, rng: random.Random, names: list[str]) -> str:
    source = rng.choice(names[-6:])
    return f"%time values_{i} = [abs(v) for v in {source}]\n"


def notebook(code_cells: int, seed: int = 0) -> dict[str, object]:
    """A notebook with `code_cells` code cells as nbformat 4 JSON data."""
    rng = random.Random(seed + code_cells)
    cells: list[dict[str, object]] = [
        _markdown("# Synthetic deploy pipeline\n\nGenerated for the nb2prod benchmarks."),
        _code("n_rows = 500\nseed = 7\n", ["parameters"]),
        _code("import math\nimport statistics\n\nvalues_0 = list(range(n_rows))\n", ["deploy"]),
    ]
    names = ["values_0"]
    helpers: list[int] = []
    makers: list[Callable[[int, random.Random, list[str]], str]] = [_values, _loop, _table]
    for i in range(1, code_cells - 1):
        if i % CELLS_PER_SECTION == 1:
            cells.append(_markdown(f"## Stage {i // CELLS_PER_SECTION + 1}: features\n\nNotes."))
        kind = i % 11
        if kind == 3:
            cells.append(_code(_define(i, rng, names), ["deploy"]))
            helpers.append(i)
        elif kind == 7:
            cells.append(_code(_call(i, rng, names, helpers), ["deploy"]))
            names.append(f"values_{i}")
        elif kind == 9:
            cells.append(_code(f"{rng.choice(names[-6:])}[:5]\n", []))  # exploration, unmarked
        elif kind == 10 and i % 4 == 2:
            cells.append(_code(_magic(i, rng, names), ["deploy"]))
            names.append(f"values_{i}")
        else:
            maker = makers[i % len(makers)]
            cells.append(_code(maker(i, rng, names), ["deploy"]))
            names.append(f"values_{i}")
    last = f"result = statistics.mean({names[-1]} or [0]) + math.sqrt(len({names[-2]}))\nresult\n"
    cells.append(_code(last, ["deploy"]))
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _markdown(text: str) -> dict[str, object]:
    return {"cell_type": "markdown", "id": "", "metadata": {}, "source": _lines(text)}


def _code(text: str, tags: list[str]) -> dict[str, object]:
    return {
        "cell_type": "code",
        "id": "",
        "execution_count": None,
        "metadata": {"tags": tags} if tags else {},
        "outputs": [],
        "source": _lines(text),
    }


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").splitlines(keepends=True)


def write(folder: Path, code_cells: int) -> Path:
    """Write `synthetic_<N>_deploy.ipynb` into `folder` and return its path."""
    data = notebook(code_cells)
    cells = data["cells"]
    assert isinstance(cells, list)
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    path = folder / f"synthetic_{code_cells}_deploy.ipynb"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--cells", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    for size in args.cells:
        print(write(args.out, size))


if __name__ == "__main__":
    main()
