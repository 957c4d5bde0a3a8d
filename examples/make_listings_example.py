"""Regenerate examples/listings_deploy.ipynb and its data, the serving example.

A rental team's deploy notebook: it reads a dated CSV of listings, cleans it, trains a
scikit-learn model, evaluates it on a held-out split, refits it on all the data, and ends in
`predict(listing)`, the function the booking page calls for one new listing. Exploration cells
sit between the deploy cells, and every cell carries the output it showed when it last ran.

Run from the repository root: `.venv/bin/python examples/make_listings_example.py`.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import random
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from notebooks import _PREFIX, write_notebook

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "2024-05-01_listings.csv"
NEW = HERE / "data" / "2024-05-08_new_listings.jsonl"
NEIGHBOURHOODS = ("centre", "harbour", "old town", "university", "suburbs")
COLUMNS = (
    "listing_id",
    "neighbourhood",
    "bedrooms",
    "bathrooms",
    "price",
    "distance_km",
    "review_score",
    "instant_book",
    "booked",
)

CELLS = [
    "md: # Listing bookings: deploy notebook\n\n"
    "Trains the model that tells the booking page how likely a new listing is to be booked\n"
    "in its first month, and serves it: `predict(listing)` scores one listing.",
    "parameters: # Parameters (papermill convention)\n"
    'data_path = "data/2024-05-01_listings.csv"\n'
    "test_size = 0.25\n"
    "seed = 42\n"
    "C = 1.0\n"
    "threshold = 0.5",
    "deploy: from typing import TypedDict\n\n"
    "import pandas as pd\n"
    "from sklearn.compose import ColumnTransformer\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.metrics import accuracy_score, roc_auc_score\n"
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.pipeline import make_pipeline\n"
    "from sklearn.preprocessing import OneHotEncoder, StandardScaler",
    "md: ## Load the listings",
    "deploy: listings = pd.read_csv(data_path)\nlen(listings)",
    "listings.head(3)",
    'listings.groupby("neighbourhood")["booked"].mean().round(2)',
    "md: ## Clean\n\nA few listings have no price, and a few prices are typing mistakes.",
    'deploy: listings = listings.dropna(subset=["price"])\n'
    'listings = listings[listings["price"].between(10, 2000)]\n'
    "len(listings)",
    'listings["price"].describe().round(1)',
    "md: ## Features\n\nWhat the booking page knows about a new listing, and what the model sees.",
    "deploy: class Listing(TypedDict):\n"
    '    """A listing as the booking page sends it."""\n\n'
    "    neighbourhood: str\n"
    "    bedrooms: int\n"
    "    bathrooms: int\n"
    "    price: float\n"
    "    distance_km: float\n"
    "    review_score: float\n"
    "    instant_book: bool\n\n\n"
    'NUMERIC = ("bedrooms", "bathrooms", "price", "distance_km", "review_score", '
    '"price_per_bedroom")\n'
    'CATEGORICAL = ("neighbourhood", "instant_book")\n\n\n'
    "def features(rows: pd.DataFrame) -> pd.DataFrame:\n"
    '    """The model\'s columns for some listings."""\n'
    "    out = rows.copy()\n"
    '    out["price_per_bedroom"] = out["price"] / out["bedrooms"].clip(lower=1)\n'
    "    return out[list(NUMERIC + CATEGORICAL)]",
    "md: ## Train and evaluate",
    "deploy: X = features(listings)\n"
    'y = listings["booked"]\n'
    "X_train, X_test, y_train, y_test = train_test_split(\n"
    "    X, y, test_size=test_size, random_state=seed, stratify=y\n"
    ")\n"
    "model = make_pipeline(\n"
    "    ColumnTransformer(\n"
    "        [\n"
    '            ("numeric", StandardScaler(), list(NUMERIC)),\n'
    '            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),\n'
    "        ]\n"
    "    ),\n"
    "    LogisticRegression(C=C, max_iter=1000),\n"
    ")\n"
    "model.fit(X_train, y_train)",
    "deploy: scores = model.predict_proba(X_test)[:, 1]\n"
    "auc = roc_auc_score(y_test, scores)\n"
    "accuracy = accuracy_score(y_test, scores >= threshold)\n"
    "round(auc, 3), round(accuracy, 3)",
    "pd.Series(scores).describe().round(3)",
    "md: ## Refit on every listing\n\nThe evaluation is done; the served model learns from all "
    "the data.",
    "deploy: model.fit(X, y);",
    "md: ## Serve",
    "serve: def predict(listing: Listing) -> float:\n"
    '    """The probability that a new listing is booked in its first month."""\n'
    "    return float(model.predict_proba(features(pd.DataFrame([listing])))[0, 1])\n\n\n"
    "def should_promote(listing: Listing) -> bool:\n"
    '    """Whether the booking page should promote a new listing."""\n'
    "    return predict(listing) >= threshold",
    'deploy: predict({"neighbourhood": "harbour", "bedrooms": 2, "bathrooms": 1, "price": 95.0,\n'
    '         "distance_km": 1.2, "review_score": 4.7, "instant_book": True})',
    'should_promote({"neighbourhood": "suburbs", "bedrooms": 4, "bathrooms": 2, "price": 310.0,\n'
    '                "distance_km": 9.5, "review_score": 3.9, "instant_book": False})',
    "md: ## Summary",
    "deploy: summary = {\n"
    '    "listings": len(listings),\n'
    '    "auc": round(auc, 3),\n'
    '    "accuracy": round(accuracy, 3),\n'
    "}\n"
    "summary",
    'test: assert 0.5 < summary["auc"] <= 1\n'
    'assert 0 <= predict({"neighbourhood": "centre", "bedrooms": 1, "bathrooms": 1, '
    '"price": 60.0, "distance_km": 0.3, "review_score": 4.9, "instant_book": True}) <= 1',
]


def write_data(path: Path, rows: int = 800, seed: int = 2024) -> None:
    """Synthetic listings: booked more often when cheap per bedroom, close, well reviewed."""
    rng = random.Random(seed)
    pull = {"centre": 0.6, "harbour": 0.4, "old town": 0.3, "university": 0.1, "suburbs": -0.5}
    lines = []
    for listing_id in range(1, rows + 1):
        neighbourhood = rng.choice(NEIGHBOURHOODS)
        bedrooms = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
        bathrooms = max(1, bedrooms - rng.choice((0, 1, 1, 2)))
        price = round(rng.lognormvariate(math.log(45 * bedrooms + 30), 0.35), 2)
        distance = round(rng.uniform(0.1, 12.0), 1)
        review = round(min(5.0, max(2.5, rng.gauss(4.3, 0.4))), 1)
        instant = rng.random() < 0.55
        z = 2.4 - 0.03 * price / bedrooms - 0.25 * distance + 2.0 * (review - 4.3)
        z += 2 * pull[neighbourhood] + (0.8 if instant else 0.0)
        booked = int(rng.random() < 1 / (1 + math.exp(-z)))
        shown: object = "" if rng.random() < 0.01 else price
        if rng.random() < 0.005:
            shown = price * 100  # a typing mistake the cleaning removes
        row = (listing_id, neighbourhood, bedrooms, bathrooms, shown, distance, review)
        lines.append((*row, instant, booked))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(COLUMNS)
        writer.writerows(lines)


def write_new_listings(path: Path, rows: int = 5, seed: int = 508) -> None:
    """New listings as the booking page sends them, one JSON object of predict()'s arguments
    per line: what `python -m listings_deploy predict` scores in `make demo`."""
    rng = random.Random(seed)
    lines = []
    for _ in range(rows):
        bedrooms = rng.choice((1, 2, 2, 3, 4))
        listing = {
            "neighbourhood": rng.choice(NEIGHBOURHOODS),
            "bedrooms": bedrooms,
            "bathrooms": max(1, bedrooms - rng.choice((0, 1, 1, 2))),
            "price": round(rng.lognormvariate(math.log(45 * bedrooms + 30), 0.35), 2),
            "distance_km": round(rng.uniform(0.1, 12.0), 1),
            "review_score": round(min(5.0, max(2.5, rng.gauss(4.3, 0.4))), 1),
            "instant_book": rng.random() < 0.55,
        }
        lines.append(json.dumps({"listing": listing}) + "\n")
    path.write_text("".join(lines), encoding="utf-8")


def recorded_outputs(cells: list[str], folder: Path) -> list[str | tuple[str, str]]:
    """Every cell, code cells with what Jupyter showed when they ran top to bottom."""
    from IPython.lib.pretty import pretty

    namespace: dict[str, Any] = {"__name__": "__main__"}
    result: list[str | tuple[str, str]] = []
    for text in cells:
        marked = _PREFIX.match(text)
        if marked is not None and marked["tags"] == "md":
            result.append(text)
            continue
        shown = _run(text[marked.end() :] if marked else text, namespace, folder)
        result.append((text, pretty(shown)) if shown is not None else text)
    return result


def _run(code: str, namespace: dict[str, Any], folder: Path) -> object:
    import os

    tree = ast.parse(code)
    tail = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not code.rstrip().endswith(";"):
        tail = ast.Expression(tree.body.pop().value)
    before = Path.cwd()
    os.chdir(folder)
    try:
        with redirect_stdout(io.StringIO()):
            exec(compile(tree, "<cell>", "exec"), namespace)
            return eval(compile(tail, "<cell>", "eval"), namespace) if tail else None
    finally:
        os.chdir(before)


if __name__ == "__main__":
    write_data(DATA)
    write_new_listings(NEW)
    write_notebook(HERE / "listings_deploy.ipynb", recorded_outputs(CELLS, HERE))
