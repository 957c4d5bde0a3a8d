"""The golden fixture notebooks: `python tests/fixture_cases.py` rewrites fixtures/*/input.ipynb.

Each case is a folder `fixtures/<case>/` with `input.ipynb`, `overrides.json` (parameters the
equivalence test passes to run()), and either `expected/` (every generated file) or
`expected_error.txt` (the one-line message), and optionally `options.json` (build options such
as `{"api": true}`). `pytest --update-golden` rewrites the expected side.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from notebooks import write_notebook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

CASES: dict[str, dict[str, object]] = {
    "plain_pipeline": {
        "cells": [
            "deploy: import statistics\nvalues = [3, 1, 4, 1, 5, 9, 2, 6]",
            "values",
            "deploy: ordered = sorted(values)\nmiddle = statistics.median(ordered)",
            "deploy: spread = ordered[-1] - ordered[0]\n{'median': middle, 'spread': spread}",
        ],
    },
    "parameters": {
        "cells": [
            "parameters: n = 5\nscale: float = 2.0\nlabel = 'run'\nverbose = False\n"
            "weights = [1, 2, 3]\noptions = {'round': 2}",
            "deploy: data = [i * scale for i in range(n)]\nweights.append(n)",
            "deploy: total = round(sum(d * w for d, w in zip(data, weights)), options['round'])\n"
            "if verbose:\n    print(label, total)\n(label, total, len(weights))",
        ],
        "overrides": {"n": 3, "scale": 0.5, "label": "other", "verbose": True, "weights": [4, 5]},
    },
    "free_form_parameters": {
        "cells": [
            "md: # Bounds",
            "parameters: import math\nlow, high = 2, 9\nprint('bounds', low, high)\nscale = 1.5\n"
            "label = 'run'\nsteps = list(range(low, high))\nsteps.append(high)\n"
            "count = len(steps)\nfor step in steps:\n    last = step\n"
            "limit = math.ceil(last * scale)",
            "deploy: total = sum(steps) * scale\n(label, low, high, count, last, limit, total)",
            "test: assert count == len(steps) and last == high",
        ],
        "overrides": {"label": "other"},
    },
    "magics": {
        "cells": [
            "%matplotlib inline\n%load_ext autoreload\n%autoreload 2",
            "deploy: %matplotlib inline\nimport math\n!pip install numpy\nradius = 2.0",
            "deploy: %%time\narea = math.pi * radius ** 2",
            "deploy: %time circumference = 2 * math.pi * radius\n"
            "ratio = (area\n%circumference)\nratio",
        ],
    },
    "ipython_forms": {
        "cells": [
            "md: # IPython syntax with a plain-Python form",
            "deploy: %load_ext watermark\n%watermark -a 'someone'\nimport os",
            "%%time\n#| deploy\nbase = 3\nbase * 2",
            "deploy: %env NB2PROD_FIXTURE_MODE=fast\nmode = os.environ['NB2PROD_FIXTURE_MODE']",
            "deploy: %%capture\n!pip install -q nothing\nprint('hidden by capture')",
            "deploy:  width = base + 1",
            "deploy: sides = [base, width]\nsides\n;",
            "deploy: (mode, base * width, sides)",
        ],
    },
    "headings_to_step_names": {
        "cells": [
            "md: # Sales report",
            "deploy: import csv\nimport io",
            "md: ## 1. Load the raw data",
            "deploy: RAW = 'region,amount\\nnorth,10\\nsouth,5\\nnorth,7\\n'\n"
            "rows = list(csv.DictReader(io.StringIO(RAW)))",
            "rows[:2]",
            "deploy: rows = [r for r in rows if r['amount']]",
            "md: ## Totals per région!",
            "deploy: totals = {}\nfor row in rows:\n"
            "    totals[row['region']] = totals.get(row['region'], 0) + int(row['amount'])",
            "deploy,step:report: best = max(totals, key=totals.get)",
            "md: ## Totals per région!",
            "deploy: sorted(totals.items())",
        ],
    },
    "conditional_rebinding": {
        "cells": [
            "parameters: threshold = 10\nmode = 'strict'",
            "deploy: limit = 5\nname = 'base'",
            "deploy: if threshold > 7:\n    limit = threshold\nfor i in range(threshold - 10):\n"
            "    name = f'loop{i}'\nif mode == 'strict':\n    status = 'checked'\nelse:\n"
            "    status = 'loose'",
            "deploy: while limit > 100:\n    limit -= 1\ntry:\n    value = 100 // (threshold - 10)\n"
            "except ZeroDivisionError:\n    value = None\n(limit, name, status, value)",
        ],
        "overrides": {"threshold": 12, "mode": "lax"},
    },
    "comprehension_scoping": {
        "cells": [
            "deploy: x = 'outer'\nitems = [1, 2, 3]\nk = 100",
            "deploy: squares = [x * x for x in items]\npairs = {k: v for k, v in zip('abc', items)}\n"
            "gen = list(y + k for y in items)\nnested = [[x + y for y in items] for x in items]",
            "deploy: found = [hit := i for i in items if i > 1]\nlast = hit\nf = lambda x: x + k\n"
            "(x, k, squares, pairs, gen, nested, found, last, f(1))",
        ],
    },
    "step_name_collision": {
        "cells": [
            "md: ## Clean",
            "deploy: def clean(text):\n    return text.strip().lower()\n\n\n"
            "words = [clean(w) for w in ['  Alpha', 'BETA ', ' gamma ']]",
            "md: ## Run",
            "deploy: run_count = len(words)\nresult = ', '.join(words)",
            "md: ## Len",
            "deploy: result, run_count",
        ],
    },
    "test_cells": {
        "cells": [
            "parameters: size = 4",
            "deploy: grid = [[r * size + c for c in range(size)] for r in range(size)]",
            "test: assert len(grid) == size\nassert grid[0][0] == 0",
            "deploy: diagonal = [grid[i][i] for i in range(size)]\ntrace = sum(diagonal)",
            "test: import math\nassert trace == sum(diagonal)\nassert math.isfinite(trace)",
            "deploy: trace",
        ],
        "overrides": {"size": 6},
    },
    "recorded_result": {
        "cells": [
            "parameters: count = 12",
            "deploy: squares = {f'item {i}': i * i for i in range(count)}",
            (
                "deploy: squares",
                "{'item 0': 0,\n 'item 1': 1,\n 'item 2': 4,\n 'item 3': 9,\n 'item 4': 16,\n"
                " 'item 5': 25,\n 'item 6': 36,\n 'item 7': 49,\n 'item 8': 64,\n"
                " 'item 9': 81,\n 'item 10': 100,\n 'item 11': 121}",
            ),
        ],
        "overrides": {"count": 3},
    },
    "api_service": {
        "cells": [
            "md: # Price quote service\n\nQuotes an order; served over HTTP with --api.",
            "parameters: quantity = 3\nunit_price = 2.5\ncurrency = 'EUR'\nexpress = False\n"
            "discounts = [0.1, 0.05]\nsizes = (1, 2)\nmeta = {'channel': 'web'}\n"
            "limit = quantity * 10\nmodel_name = 'base'",
            "deploy: total = quantity * unit_price * (1 - sum(discounts))\ndiscounts.append(0.0)",
            "deploy: quote = {'total': round(total, 2), 'currency': currency, 'express': express,\n"
            "         'sizes': list(sizes), 'channel': meta['channel'], 'limit': limit,\n"
            "         'model': model_name, 'discounts': len(discounts)}\nquote",
        ],
        "overrides": {
            "quantity": 4,
            "discounts": [0.5],
            "sizes": [3],
            "limit": 50,
            "model_name": "big",
        },
        "options": {"api": True},
    },
    "serving": {
        "cells": [
            "md: # Review scores\n\nScores a review by the words the training saw; served with --api.",
            "parameters: weight = 2.0\nthreshold = 3.0",
            "deploy: from typing import TypedDict\n\n\nclass Review(TypedDict):\n"
            '    """A review as the shop sends it."""\n\n    text: str\n    stars: int\n\n\n'
            "class Vocabulary:\n    def __init__(self):\n        self.counts = {}\n\n"
            "    def fit(self, texts):\n        for text in texts:\n"
            "            for word in text.split():\n"
            "                self.counts[word] = self.counts.get(word, 0) + 1\n"
            "        return self",
            "md: ## Train",
            "deploy: corpus = ['good food', 'bad service', 'good good value']\n"
            "vocabulary = Vocabulary().fit(corpus)\nlen(vocabulary.counts)",
            "sorted(vocabulary.counts)",
            "md: ## Refit with the late reviews",
            "deploy: vocabulary.fit(['great value']);",
            "md: ## Serve",
            "serve: def score(review: Review) -> float:\n"
            '    """How much a review says, by the words the training saw."""\n'
            "    words = review['text'].split()\n"
            "    return weight * sum(vocabulary.counts.get(w, 0) for w in words) + review['stars']"
            "\n\n\ndef flag(review: Review, strict: bool = False) -> bool:\n"
            '    """Whether a review stands out."""\n'
            "    return score(review) >= threshold * (2 if strict else 1)",
            ("deploy: score({'text': 'good value', 'stars': 4})", "14.0"),
            ("flag({'text': 'bad', 'stars': 1}, strict=True)", "False"),
            "deploy: summary = {'words': len(vocabulary.counts)}\nsummary",
            "test: assert score({'text': 'great', 'stars': 0}) == weight",
        ],
        "overrides": {"weight": 1.0},
        "options": {"api": True},
    },
    "functions_reading_globals": {
        "cells": [
            "parameters: data_scale = 2\ncutoff = 0.5",
            "deploy: THRESHOLD = 0.75\nLABELS = ('low', 'high')\n\n\n"
            "def is_high(p):\n    return p > THRESHOLD\n\n\n"
            "def label(p):\n    return LABELS[is_high(p)]",
            "deploy: def scaled(values):\n    return [v * data_scale for v in values]\n\n\n"
            "def predict(x):\n    return model.score(x) > cutoff",
            "md: ## Fit",
            "deploy: class Model:\n    def __init__(self, weight):\n        self.weight = weight\n\n"
            "    def score(self, x):\n        return x * self.weight\n\n\n"
            "model = Model(weight=len(scaled([1, 2, 3])) / 10)",
            "md: ## Predict",
            "deploy: [(label(p), predict(p)) for p in (0.5, 0.8, 2.0)]",
        ],
        "overrides": {"data_scale": 5, "cutoff": 1.0},
    },
    "star_import": {
        "cells": [
            "deploy: from math import *\nradius = 3",
            "deploy: round(pi * radius ** 2, 3), floor(sqrt(radius))",
        ],
    },
    "top_level_await": {
        "cells": [
            "deploy: import asyncio\n\n\nasync def fetch(n):\n    await asyncio.sleep(0)\n    return n * 2",
            "deploy: first = await fetch(1)\nresults = [await fetch(i) for i in range(3)]",
            "deploy: first, results",
        ],
    },
    "hidden_state": {
        "cells": [
            "deploy: rows = [3, 1, 2]\nfactor = 2",
            "factor = 10\nrows.append(99)\nrows[0] = -1",
            "deploy: [r * factor for r in rows]",
        ],
    },
    "notebook_names_like_generated_ones": {
        "cells": [
            "deploy: from subprocess import run\n\n\ndef main(x):\n    return x + 1\n\n\n"
            "app = 'demo'\npipeline = [main(1), main(2)]",
            "deploy: def run_twice(f, x):\n    return f(f(x))\n\n\nresult = run_twice(main, 0)",
            "test: assert pipeline == [2, 3]\nassert app == 'demo'\nassert callable(run)",
            "deploy: (app, pipeline, result, run.__name__)",
        ],
    },
    "kale_tags": {
        "cells": [
            "md: # Order totals, tagged for Kale",
            "imports: import statistics",
            "pipeline-parameters: n_orders = 6\nprice = 2.5",
            "functions: def total(count, unit):\n    return round(count * unit, 2)",
            "step:load: orders = [total(i, price) for i in range(1, n_orders + 1)]",
            "orders.append(total(n_orders, price))",
            "skip: print(orders[:2])",
            "orders.sort(reverse=True)",
            "prev:load,step:summarise: mean = statistics.mean(orders)\n"
            "spread = orders[0] - orders[-1]",
            "block:: top = orders[:3]",
            "pipeline-metrics: print(mean)\nprint(spread)",
            "{'mean': mean, 'spread': spread, 'top': top}",
        ],
        "overrides": {"n_orders": 3, "price": 1.5},
    },
    "nbdev_marks": {
        "cells": [
            "md: # Scores, marked for nbdev",
            "#| default_exp scores",
            "#| export\nimport math",
            "#| hide\nfrom fastcore.test import test_eq",
            "#| export\ndef score(x):\n    return round(math.sqrt(x), 3)",
            "#| exporti\nvalues = [score(v) for v in (1, 4, 9)]",
            "#| eval: false\nslow = [score(v) for v in range(10**7)]",
            "score(16)",
            "#|export\n#| hide\n{'values': values, 'total': sum(values)}",
        ],
    },
    "repeated_warnings": {
        "cells": [
            "deploy: %time total = 0",
            *(f"deploy: %time total += {n}" for n in range(1, 6)),
            "deploy: %matplotlib inline\ntotal",
        ],
    },
    "orders_on_airflow": {
        "cells": [
            "md: # Orders by region",
            "parameters: n_orders = 12\ndiscount = 0.1\nregions = ['north', 'south', 'east']\n"
            "label = 'weekly'",
            "md: ## Load the orders",
            "deploy: import statistics\n\norders = [\n"
            "    {'id': i, 'region': regions[i % len(regions)], 'amount': 10.0 + 3 * i}\n"
            "    for i in range(n_orders)\n]",
            "md: ## Apply the discount",
            "deploy: if not 0 <= discount < 1:\n"
            "    raise ValueError(f'discount {discount}: give a fraction below 1')\n"
            "for i in range(len(orders)):\n"
            "    orders[i]['amount'] = round(orders[i]['amount'] * (1 - discount), 2)",
            "md: ## Totals by region",
            "deploy: totals = {}\nfor order in orders:\n"
            "    totals[order['region']] = totals.get(order['region'], 0) + order['amount']",
            "md: ## Mean amount",
            "deploy: mean = round(statistics.mean(o['amount'] for o in orders), 2)",
            "md: ## Say how many",
            "deploy: print(label, len(orders), 'orders')",
            "md: ## Report",
            "deploy: {'label': label, 'mean': mean, 'first': orders[0],\n"
            " 'totals': {k: round(v, 2) for k, v in sorted(totals.items())}}",
        ],
        "overrides": {"n_orders": 5, "discount": 0.5, "regions": ["west"], "label": "daily"},
        "options": {"airflow": True},
    },
    "error_dialect_conflict": {
        "cells": ["deploy: x = 1", "skip,deploy: y = x + 1"],
    },
    "readable_steps": {
        "cells": [
            "parameters: limit = 3",
            "deploy: try:\n    import simplejson as json\nexcept ImportError:\n    import json\n"
            "import statistics",
            "md: ## Load",
            "deploy: values = [4, 8, 15, 16, 23, 42][: limit * 2]\n\n\ndef mean(xs):\n"
            "    return statistics.mean(xs)\n\n\ncentre = mean(values)\ncentre\nvalues.__class__",
            "values[:2]",
            "md: ## Report",
            "deploy: for value in values:\n    last = value\nlast\nlen(values)",
            "deploy: summary = json.dumps({'centre': centre, 'last': last})\nprint(summary)\nsummary",
        ],
        "overrides": {"limit": 2},
    },
    "global_counter": {
        "cells": [
            "deploy: import functools\n\ncalls = 0\n\n\ndef counted(fn):\n"
            "    @functools.wraps(fn)\n    def wrapper(*args):\n        global calls\n"
            "        calls += 1\n        return fn(*args)\n\n    return wrapper",
            "md: ## Use",
            "deploy: @counted\ndef square(x):\n    return x * x\n\n\ntotal = square(2) + square(3)",
            "test: assert calls == 2",
            "md: ## Report",
            "deploy: (total, calls, square.__name__)",
        ],
    },
    "error_global_parameter": {
        "cells": [
            "parameters: count = 0",
            "deploy: def bump():\n    global count\n    count += 1",
            "deploy: bump()\ncount",
        ],
    },
    "rebound_in_one_step": {
        "cells": [
            "deploy: scale = 2\n\n\ndef grow(x):\n    return x * scale",
            "deploy: small = grow(1)",
            "deploy: scale = 10\nbig = grow(1)\n(small, big)",
        ],
    },
    "rebound_after_use": {
        "cells": [
            "md: ## Define",
            "deploy: scale = 2\n\n\ndef grow(x):\n    return x * scale",
            "md: ## Use",
            "deploy: small = grow(1)",
            "md: ## Rescale",
            "deploy: scale = 10\nbig = grow(1)\n(small, big)",
        ],
    },
    "error_class_rebound_after_use": {
        "cells": [
            "md: ## Define",
            "deploy: scale = 2\n\n\nclass Grower:\n    def grow(self, x):\n"
            "        return x * scale",
            "md: ## Use",
            "deploy: small = Grower().grow(1)",
            "md: ## Rescale",
            "deploy: scale = 10\nbig = Grower().grow(1)\n(small, big)",
        ],
    },
    "defined_twice": {
        "cells": [
            "md: ## First try",
            "deploy: def can_vote(age):\n    return age >= 18",
            "deploy: first = can_vote(17)",
            "md: ## Better",
            "deploy: def can_vote(age, citizen):\n    return age >= 18 and citizen",
            "deploy: first, can_vote(30, True)",
        ],
    },
    "import_then_rebind": {
        "cells": [
            "deploy: import string\nfrom collections import Counter",
            "deploy: string = string.ascii_lowercase[:5]\ncounts = Counter(string)",
            "md: ## Later",
            "deploy: from collections import Counter\n(string, counts['a'], Counter('aa')['a'])",
        ],
    },
    "names_reached_at_run_time": {
        "cells": [
            "parameters: scale = 3",
            "deploy: horses = [1, 2, 3]\nchosen = eval('horses')",
            "deploy: globals()['total'] = sum(chosen) * scale\nlimit = globals().get('LIMIT', 100)",
            "deploy: def report():\n    return f\"{globals()['total']} of {limit}\"\n\n\nreport()",
        ],
        "overrides": {"scale": 5},
    },
    "error_eval_of_a_value": {
        "cells": [
            "deploy: class Gift:\n    def __init__(self, weight):\n        self.weight = weight\n\n\n"
            "horses = [Gift(2), Gift(3)]",
            "deploy: def plot_gift(g):\n    return [x.weight for x in eval(g)]",
            "deploy: plot_gift('horses')",
        ],
    },
    "error_syntax": {
        "cells": ["deploy: x = 1", "deploy: y = (x +\n    2\nprint(y)"],
    },
    "error_no_deploy_cells": {"cells": ["x = 1", "md: ## Nothing marked"]},
    "error_undefined_name": {
        "cells": ["data = [1, 2, 3]", "deploy: total = sum(data) + offset"],
    },
    "error_magic_value": {
        "cells": ["deploy: import os", "deploy: files = !ls\nlen(files)"],
    },
}


def write_all() -> None:
    """Write every case's input notebook and overrides."""
    for name, case in CASES.items():
        folder = FIXTURES / name
        write_notebook(folder / "input.ipynb", case["cells"])  # type: ignore[arg-type]
        overrides = case.get("overrides", {})
        (folder / "overrides.json").write_text(json.dumps(overrides, indent=2) + "\n")
        if "options" in case:
            (folder / "options.json").write_text(json.dumps(case["options"], indent=2) + "\n")


if __name__ == "__main__":
    write_all()
