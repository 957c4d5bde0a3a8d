"""Regenerate examples/churn_deploy.ipynb, the notebook `make demo` builds.

Run from the repository root: `.venv/bin/python examples/make_example.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from notebooks import write_notebook

CELLS = [
    "md: # Churn risk: deploy notebook\n\n"
    "Scores synthetic customers for churn risk and summarises who to call first.\n"
    "Exploration cells sit between the deploy cells, as they do in real notebooks.",
    "parameters: # Parameters (papermill convention)\nn_customers = 300\nseed = 7\nthreshold = 0.5",
    "deploy: import math\nimport random\nimport statistics",
    "%matplotlib inline",
    "md: ## Load customers",
    "deploy: rng = random.Random(seed)\n"
    "customers = []\n"
    "for customer_id in range(n_customers):\n"
    "    customers.append(\n"
    "        {\n"
    '            "id": customer_id,\n'
    '            "tenure": rng.randint(0, 72),\n'
    '            "monthly_charges": round(rng.uniform(20, 120), 2),\n'
    '            "support_calls": rng.randint(0, 12),\n'
    '            "contract": rng.choice(["monthly", "yearly"]),\n'
    "        }\n"
    "    )",
    "customers[:3]",
    'statistics.mean(c["monthly_charges"] for c in customers)',
    "md: ## Clean the data\n\nNew customers (tenure 0) have no history; support calls are capped.",
    "deploy: def clip(value, low, high):\n"
    "    return max(low, min(high, value))\n\n\n"
    'clean = [\n    dict(c, support_calls=clip(c["support_calls"], 0, 6))\n'
    '    for c in customers\n    if c["tenure"] > 0\n]',
    "len(customers) - len(clean)",
    "md: ## Score churn risk",
    "deploy: def churn_probability(customer):\n"
    '    z = -1.5 + 0.45 * customer["support_calls"] - 0.04 * customer["tenure"]\n'
    '    z += 0.01 * customer["monthly_charges"]\n'
    '    if customer["contract"] == "monthly":\n'
    "        z += 0.8\n"
    "    return 1 / (1 + math.exp(-z))\n\n\n"
    'scores = {c["id"]: churn_probability(c) for c in clean}',
    "sorted(scores.values())[-5:]",
    "md: ## Summarise",
    "deploy: at_risk = sorted(\n"
    "    (cid for cid, p in scores.items() if p >= threshold), key=scores.get, reverse=True\n)\n"
    "summary = {\n"
    '    "customers": len(clean),\n'
    '    "at_risk": len(at_risk),\n'
    '    "mean_risk": round(statistics.mean(scores.values()), 4),\n'
    '    "call_first": at_risk[:5],\n'
    "}\n"
    "summary",
    'test: assert summary["customers"] == len(clean) <= n_customers\n'
    'assert 0 <= summary["mean_risk"] <= 1\n'
    "assert all(scores[c] >= threshold for c in at_risk)",
]


def with_recorded_result(cells: list[str]) -> list[str | tuple[str, str]]:
    """The cells, the result cell with the output Jupyter recorded when the notebook ran."""
    import tempfile

    from IPython.lib.pretty import pretty

    from reference import run_notebook

    with tempfile.TemporaryDirectory() as folder:
        shown = pretty(run_notebook(write_notebook(Path(folder) / "run.ipynb", cells)))
    result_cell = max(i for i, text in enumerate(cells) if text.startswith("deploy: "))
    return [(text, shown) if i == result_cell else text for i, text in enumerate(cells)]


if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "churn_deploy.ipynb"
    write_notebook(target, with_recorded_result(CELLS))
