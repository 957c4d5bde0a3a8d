"""Write synthetic deploy notebooks with long cells, as real ones have (deterministic for a size).

`generate.py` writes cells of about five lines; the cells of public notebooks are longer. Here a
code cell has 15 to 40 lines: helper functions with docstrings, branches and loops, small
classes with methods, pandas-style frame pipelines (assign, groupby, merge, query), summaries
built in loops, and now and then a plot cell left unmarked. Every deploy cell reads names that
earlier cells bound and binds new ones, so the build has real data flow to do; nothing here is
run, so pandas need not be installed to build.

    python benchmarks/generate_long.py OUT_DIR [--cells 50 200 2000]
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path

SIZES = (50, 200, 2000)
CELLS_PER_SECTION = 6

Maker = Callable[[int, random.Random, list[str], list[str]], str]


def _helpers(i: int, rng: random.Random, frames: list[str], helpers: list[str]) -> str:
    low, high = rng.randint(1, 5), rng.randint(20, 90)
    helpers.extend([f"clean_{i}", f"score_{i}"])
    return f'''def clean_{i}(frame, column="value_{i % 7}", low={low}, high={high}):
    """Drop the rows whose `column` is missing and clip it between {low} and {high}."""
    kept = frame.dropna(subset=[column]).copy()
    kept[column] = kept[column].clip(lower=low, upper=high)
    if kept.empty:
        raise ValueError(f"no rows left in {{column}} after cleaning")
    return kept


def score_{i}(values, weights=None, *, threshold={rng.randint(2, 9)}):
    """A weighted score of `values`, counting only those above `threshold`."""
    weights = weights or [1.0] * len(values)
    total = 0.0
    count = 0
    for value, weight in zip(values, weights):
        if value is None:
            continue
        if value > threshold:
            total += value * weight
            count += 1
        elif value < -threshold:
            total -= weight
    return total / count if count else 0.0
'''


def _frame(i: int, rng: random.Random, frames: list[str], helpers: list[str]) -> str:
    source = rng.choice(frames[-4:])
    key = rng.choice(["region", "segment", "channel"])
    frames.append(f"frame_{i}")
    clean = next((h for h in reversed(helpers) if h.startswith("clean_")), None)
    first = f"{clean}({source})" if clean else f"{source}.dropna()"
    return f'''frame_{i} = (
    {first}
    .assign(
        ratio_{i}=lambda d: d["value_1"] / (d["value_2"].abs() + 1),
        flag_{i}=lambda d: d["value_3"] > {rng.randint(10, 60)},
    )
    .query("value_0 >= {rng.randint(0, 5)}")
)
summary_{i} = (
    frame_{i}.groupby("{key}", as_index=False)
    .agg(total=("value_1", "sum"), mean=("ratio_{i}", "mean"), rows=("value_0", "size"))
    .sort_values("total", ascending=False)
)
top_{i} = summary_{i}.head({rng.randint(3, 9)})["{key}"].tolist()
frame_{i} = frame_{i}[frame_{i}["{key}"].isin(top_{i})].reset_index(drop=True)
print(f"stage {i}: {{len(frame_{i})}} rows in {{len(top_{i})}} groups")
'''


def _merge(i: int, rng: random.Random, frames: list[str], helpers: list[str]) -> str:
    left, right = rng.choice(frames[-4:]), rng.choice(frames[-6:])
    frames.append(f"joined_{i}")
    return f"""lookup_{i} = (
    {right}[["region", "value_4"]]
    .drop_duplicates("region")
    .rename(columns={{"value_4": "reference_{i}"}})
)
joined_{i} = {left}.merge(lookup_{i}, on="region", how="left", validate="many_to_one")
joined_{i}["reference_{i}"] = joined_{i}["reference_{i}"].fillna(0)
joined_{i}["delta_{i}"] = joined_{i}["value_1"] - joined_{i}["reference_{i}"]
bins_{i} = [-float("inf"), -{rng.randint(5, 20)}, 0, {rng.randint(5, 20)}, float("inf")]
labels_{i} = ["far below", "below", "above", "far above"]
joined_{i}["band_{i}"] = pd.cut(joined_{i}["delta_{i}"], bins=bins_{i}, labels=labels_{i})
counts_{i} = joined_{i}["band_{i}"].value_counts().to_dict()
missing_{i} = [label for label in labels_{i} if not counts_{i}.get(label)]
if missing_{i}:
    print("bands without rows:", ", ".join(missing_{i}))
"""


def _loop(i: int, rng: random.Random, frames: list[str], helpers: list[str]) -> str:
    source = rng.choice(frames[-4:])
    score = next((h for h in reversed(helpers) if h.startswith("score_")), None)
    call = f"{score}(values, threshold={rng.randint(1, 5)})" if score else "sum(values)"
    frames.append(f"report_{i}")
    return f"""rows_{i} = []
for name, group in {source}.groupby("segment"):
    values = group["value_1"].tolist()
    if not values:
        continue
    best = max(values)
    worst = min(values)
    spread = best - worst
    rows_{i}.append(
        {{
            "segment": name,
            "score": {call},
            "best": best,
            "worst": worst,
            "spread": spread,
            "wide": spread > {rng.randint(10, 50)},
        }}
    )
report_{i} = pd.DataFrame(rows_{i})
for column in ("score", "spread"):
    if column in report_{i}:
        report_{i}[column] = report_{i}[column].round({rng.randint(1, 4)})
report_{i} = report_{i}.assign(region=report_{i}.get("segment", ""), value_0=1)
report_{i} = report_{i}.assign(value_1=report_{i}.get("score", 0), value_2=1, value_3=1, value_4=0)
report_{i} = report_{i}.assign(channel="all")
"""


def _model(i: int, rng: random.Random, frames: list[str], helpers: list[str]) -> str:
    source = rng.choice(frames[-4:])
    frames.append(f"scored_{i}")
    return f'''class Model{i}:
    """A running mean per group, updated one row at a time."""

    def __init__(self, key="region", smoothing={rng.randint(1, 9) / 10}):
        self.key = key
        self.smoothing = smoothing
        self.means = {{}}

    def update(self, group, value):
        previous = self.means.get(group, value)
        self.means[group] = previous + self.smoothing * (value - previous)
        return self.means[group]

    def fit(self, frame):
        for group, value in zip(frame[self.key], frame["value_1"]):
            self.update(group, value)
        return self

    def predict(self, frame):
        return frame[self.key].map(self.means).fillna(0.0)


model_{i} = Model{i}().fit({source})
scored_{i} = {source}.assign(predicted=model_{i}.predict({source}))
error_{i} = (scored_{i}["predicted"] - scored_{i}["value_1"]).abs().mean()
print(f"model {i}: mean absolute error {{error_{i}:.3f}}")
'''


def _plot(i: int, rng: random.Random, frames: list[str], helpers: list[str]) -> str:
    source = rng.choice(frames[-4:])
    bins = rng.randint(10, 40)
    return f"""ax = {source}["value_1"].plot(kind="hist", bins={bins}, title="stage {i}")
ax.set_xlabel("value")
ax.figure.tight_layout()
{source}.describe()
"""


def notebook(code_cells: int, seed: int = 0) -> dict[str, object]:
    """A notebook with `code_cells` code cells as nbformat 4 JSON data."""
    rng = random.Random(seed + code_cells)
    cells: list[dict[str, object]] = [
        _markdown("# Synthetic deploy pipeline, long cells\n\nGenerated for nb2prod's benchmarks."),
        _code('data_path = "data/sales.csv"\nn_rows = 5000\nseed = 11\n', ["parameters"]),
        _code(_load(), ["deploy"]),
    ]
    frames = ["frame_0"]
    helpers: list[str] = []
    makers: list[Maker] = [_frame, _loop, _merge, _model]
    for i in range(1, code_cells - 2):  # with the parameters, loading and last cells
        if i % CELLS_PER_SECTION == 1:
            stage = i // CELLS_PER_SECTION + 1
            cells.append(_markdown(f"## Stage {stage}\n\nWhat this stage does, in prose."))
        if i % 9 == 1:
            cells.append(_code(_helpers(i, rng, frames, helpers), ["deploy"]))
        elif i % 9 == 5:
            cells.append(_code(_plot(i, rng, frames, helpers), []))  # exploration, unmarked
        else:
            cells.append(_code(makers[i % len(makers)](i, rng, frames, helpers), ["deploy"]))
    last = f'result = {{"rows": int(len({frames[-1]})), "frames": {len(frames)}}}\nresult\n'
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


def _load() -> str:
    return """import numpy as np
import pandas as pd

rng = np.random.default_rng(seed)
frame_0 = pd.DataFrame(
    {
        "region": rng.choice(["north", "south", "east", "west"], size=n_rows),
        "segment": rng.choice(["retail", "online", "partner"], size=n_rows),
        "channel": rng.choice(["web", "store", "phone"], size=n_rows),
        **{f"value_{k}": rng.normal(20, 15, size=n_rows).round(2) for k in range(7)},
    }
)
print(f"{len(frame_0)} rows to read from {data_path}")
"""


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
    """Write `long_<N>_deploy.ipynb` into `folder` and return its path."""
    data = notebook(code_cells)
    cells = data["cells"]
    assert isinstance(cells, list)
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    path = folder / f"long_{code_cells}_deploy.ipynb"
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
