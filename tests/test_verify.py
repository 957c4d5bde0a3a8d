"""`nb2prod verify` against a real ipykernel: verdicts, hidden state and kernel failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nb2prod.cli import app
from nb2prod.verify import parse_override

from notebooks import write_notebook

runner = CliRunner()


def verify(folder: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(folder)
    result = runner.invoke(app, ["verify", *args])
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("n=5", ("n", 5), id="an int"),
        pytest.param("rate=0.25", ("rate", 0.25), id="a float"),
        pytest.param("names=['a', 'b']", ("names", ["a", "b"]), id="a Python list"),
        pytest.param("flag=true", ("flag", True), id="JSON true"),
        pytest.param("path=data/2024-05-01.csv", ("path", "data/2024-05-01.csv"), id="plain text"),
        pytest.param("label=a=b", ("label", "a=b"), id="the first = splits"),
    ],
)
def test_parse_override(text: str, expected: tuple[str, Any]) -> None:
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", ["n", "=3", "2x=1"])
def test_parse_override_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_override(text)


def test_numpy_and_pandas_results_are_equal_with_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "2024-05-01_rows.csv").write_text("a,b\n1,2.5\n3,\n")
    write_notebook(
        tmp_path / "nb_deploy.ipynb",
        [
            "parameters: scale = 2\nsource = 'data/2024-05-01_rows.csv'",
            "deploy: import numpy as np\nimport pandas as pd\nframe = pd.read_csv(source) * scale",
            "deploy: {'frame': frame, 'sums': frame.sum(), 'arr': frame['b'].to_numpy(),"
            " 'mean': float(np.nanmean(frame['b'])) / 3, 'index': frame.columns}",
        ],
    )
    code, out, err = verify(tmp_path, monkeypatch, "nb_deploy.ipynb", "-p", "scale=3")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "nb_deploy.ipynb: cell 3: verified: run() equals the notebook's result in the python3 kernel"
    ]


def test_verify_leaves_the_build_cache_as_the_build_left_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify builds from the notebook it read, without the cache: the user's next build of
    the unchanged notebook is still answered whole from the cache, running no stage."""
    import nb2prod.build

    monkeypatch.setenv("NB2PROD_CACHE_DIR", str(tmp_path / "cache"))
    write_notebook(tmp_path / "nb_deploy.ipynb", ["deploy: x = 2", "deploy: x * 3"])
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["build", "nb_deploy.ipynb", "-q"]).exit_code == 0
    code, out, _ = verify(tmp_path, monkeypatch, "nb_deploy.ipynb")
    assert code == 0, out

    def no_stage(*args: object, **kwargs: object) -> None:
        raise AssertionError("the stages ran: the build's cache entry was replaced")

    monkeypatch.setattr(nb2prod.build, "render_package", no_stage)
    assert runner.invoke(app, ["build", "nb_deploy.ipynb", "-q"]).exit_code == 0


def test_a_real_difference_is_a_mismatch_with_a_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notebook(tmp_path / "names.ipynb", ["deploy: {'module': __name__, 'n': 1}"])
    code, out, _ = verify(tmp_path, monkeypatch, "names.ipynb")
    assert code == 1
    assert out.splitlines() == [
        "names.ipynb: cell 1: mismatch: run() differs from the notebook's result in the python3 "
        "kernel (notebook != pipeline):",
        "  result['module']: '__main__' != 'names.pipeline'",
    ]


def test_classes_defined_in_the_notebook_compare_by_repr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notebook(
        tmp_path / "model.ipynb",
        [
            "deploy: class Model:\n    def __init__(self, w):\n        self.w = w\n\n"
            "    def __repr__(self):\n        return f'Model({self.w})'",
            "deploy: Model(3), object()",
        ],
    )
    code, out, _ = verify(tmp_path, monkeypatch, "model.ipynb")
    assert code == 0, out
    assert "verified" in out


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param(
            ["deploy: from IPython.display import YouTubeVideo\nYouTubeVideo('abc')"],
            id="an object whose class has no equality, shown alike",
        ),
        pytest.param(
            ["md: ## Squares", "deploy: values = [1, 2]\n(v * v for v in values)"],
            id="a generator, which names the step it runs in",
        ),
    ],
)
def test_what_differs_only_between_runs_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cells: list[str]
) -> None:
    write_notebook(tmp_path / "shown.ipynb", cells)
    code, out, _ = verify(tmp_path, monkeypatch, "shown.ipynb")
    assert (code, out.split(": ")[2]) == (0, "verified"), out


def test_run_may_take_the_timeout_of_each_cell_it_stands_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each cell keeps within --timeout in the kernel; run(), which runs them all, within the sum."""
    write_notebook(
        tmp_path / "slow.ipynb",
        ["deploy: import time\ntime.sleep(1.2)", "deploy: time.sleep(1.2)", "deploy: 3"],
    )
    code, out, err = verify(tmp_path, monkeypatch, "slow.ipynb", "--timeout", "2")
    assert (code, err) == (0, ""), out + err


def test_a_run_past_its_budget_says_how_it_was_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notebook(
        tmp_path / "slow.ipynb",
        ["deploy: import time\ntime.sleep(0 if __name__ == '__main__' else 30)\n1"],
    )
    code, out, err = verify(tmp_path, monkeypatch, "slow.ipynb", "--timeout", "1")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "slow.ipynb: the generated run() did not finish within 1 s (--timeout 1 s for the cell "
        "it runs); raise --timeout"
    ]


def test_hidden_state_is_named_and_whole_shows_the_difference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notebook(
        tmp_path / "hidden.ipynb",
        ["parameters: n = 3", "deploy: x = n + 1", "x = 100", "deploy: {'double': x * 2}", "1 / 0"],
    )
    code, out, err = verify(tmp_path, monkeypatch, "hidden.ipynb", "--whole")
    assert code == 1
    assert err.splitlines() == [
        "hidden.ipynb: cell 3: warning: hidden state: this unmarked cell rebinds `x`, which deploy "
        "cell 4 reads; the notebook's run and the pipeline's differ"
    ]
    assert out.splitlines() == [
        "hidden.ipynb: cell 4: verified: run() equals the notebook's result in the python3 kernel",
        "hidden.ipynb: whole notebook: mismatch: running every cell gives another result; "
        "unmarked cell(s) 3 change what deploy cells read (notebook != pipeline):",
        "  result['double']: 200 != 8",
    ]


def test_an_in_place_change_by_an_unmarked_cell_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notebook(
        tmp_path / "sorted.ipynb",
        ["deploy: rows = [3, 1, 2]", "rows.sort()", "deploy: rows[0]"],
    )
    code, out, err = verify(tmp_path, monkeypatch, "sorted.ipynb", "--whole")
    assert code == 1
    assert err.splitlines() == [
        "sorted.ipynb: cell 2: warning: hidden state: this unmarked cell changes `rows`, which "
        "deploy cell 3 reads; the notebook's run and the pipeline's differ"
    ]
    assert out.splitlines()[1:] == [
        "sorted.ipynb: whole notebook: mismatch: running every cell gives another result; "
        "unmarked cell(s) 2 change what deploy cells read (notebook != pipeline):",
        "  result: 1 != 3",
    ]


def test_a_failing_whole_run_keeps_the_deploy_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notebook(
        tmp_path / "explore.ipynb", ["deploy: x = 2", "import not_installed", "deploy: x"]
    )
    code, out, err = verify(tmp_path, monkeypatch, "explore.ipynb", "--whole")
    assert code == 1
    assert out.splitlines() == [
        "explore.ipynb: cell 3: verified: run() equals the notebook's result in the python3 kernel"
    ]
    assert err.splitlines() == [
        "explore.ipynb: cell 2: running every cell (--whole): raised ModuleNotFoundError: No "
        "module named 'not_installed' in the python3 kernel; fix the notebook so that it runs "
        "from the top"
    ]


@pytest.mark.parametrize(
    ("cells", "options", "expected"),
    [
        pytest.param(
            ["deploy: import time", "deploy: time.sleep(30)"],
            ["--timeout", "1"],
            "run.ipynb: cell 2: did not finish within 1 s in the python3 kernel; raise --timeout "
            "or make the cell faster",
            id="a timeout",
        ),
        pytest.param(
            ["deploy: import os", "deploy: os._exit(1)"],
            [],
            "run.ipynb: cell 2: the python3 kernel died while running this cell (it exited or ran "
            "out of memory); make the cell run to the end in Jupyter",
            id="a dying kernel",
        ),
        pytest.param(
            ["deploy: x = 1", "deploy: x / 0"],
            [],
            "run.ipynb: cell 2: raised ZeroDivisionError: division by zero in the python3 kernel; "
            "fix the notebook so that it runs from the top",
            id="an exception in a cell",
        ),
        pytest.param(
            ["deploy: x = 1", "deploy: import __main__\n__main__.x"],
            [],
            "run.ipynb: the generated run() failed where the notebook's cells ran: "
            "AttributeError: module '__main__' has no attribute 'x'",
            id="run() fails where the kernel did not",
        ),
        pytest.param(
            ["deploy: x = 1"],
            ["--kernel", "no-such-kernel"],
            "run.ipynb: kernel `no-such-kernel` is not installed; install it (`python -m ipykernel "
            "install --user --name no-such-kernel`), or see `jupyter kernelspec list` and pass "
            "--kernel NAME",
            id="a missing kernel",
        ),
        pytest.param(
            ["parameters: n = 1", "deploy: n"],
            ["-p", "m=2"],
            "run.ipynb: cell 1: -p m: the parameters cell binds no `m` (it binds n); use one of "
            "its names",
            id="an unknown parameter",
        ),
        pytest.param(
            ["deploy: n = 1"],
            ["-p", "n=2"],
            "run.ipynb: -p n: the notebook has no parameters cell; tag the cell that sets its "
            "parameters `parameters`",
            id="a parameter without a parameters cell",
        ),
    ],
)
def test_failures_are_one_clear_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cells: list[str],
    options: list[str],
    expected: str,
) -> None:
    write_notebook(tmp_path / "run.ipynb", cells)
    code, out, err = verify(tmp_path, monkeypatch, "run.ipynb", *options)
    # naming no parameter is a usage error, as a malformed -p is
    assert (code, out) == (2 if "-p" in options else 1, "")
    assert err.splitlines() == [expected]


def test_the_notebooks_kernel_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_notebook(tmp_path / "other.ipynb", ["deploy: 1"], kernel="python-elsewhere")
    code, _, err = verify(tmp_path, monkeypatch, "other.ipynb")
    assert code == 1
    assert "kernel `python-elsewhere` is not installed" in err


def test_bad_override_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_notebook(tmp_path / "run.ipynb", ["parameters: n = 1", "deploy: n"])
    code, _, err = verify(tmp_path, monkeypatch, "run.ipynb", "-p", "oops")
    assert code == 2
    assert "'oops' is not NAME=VALUE" in err


def test_build_errors_come_out_as_they_do_for_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notebook(tmp_path / "bad.ipynb", ["deploy: y = = 2"])
    code, out, err = verify(tmp_path, monkeypatch, "bad.ipynb")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "bad.ipynb: cell 1, line 1: syntax error: invalid syntax; fix the cell so that it runs "
        "in Jupyter"
    ]


def test_the_readme_example_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example notebook's pipeline equals its cells, with parameters overridden."""
    from conftest import ROOT

    code, out, err = verify(
        ROOT, monkeypatch, "examples/churn_deploy.ipynb", "-p", "n_customers=50", "-p", "seed=1"
    )
    assert (code, err) == (0, "")
    assert out == (
        "examples/churn_deploy.ipynb: cell 16: verified: run() equals the notebook's result in "
        "the python3 kernel\n"
    )


def test_a_text_notebook_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sales_deploy.py").write_text(
        '# %% tags=["parameters"]\nscale = 2\n\n# %%\n#| deploy\n%time rows = [1, 2, 3]\n\n'
        '# %% tags=["deploy"]\n[r * scale for r in rows]\n'
    )
    code, out, err = verify(tmp_path, monkeypatch, "sales_deploy.py", "-p", "scale=3")
    assert code == 0, err
    assert (
        err
        == "sales_deploy.py: line 6 (cell 2, line 2): warning: dropped %time; its statement is kept\n"
    )
    assert out.splitlines() == [
        "sales_deploy.py: line 9 (cell 3): verified: run() equals the notebook's result in the "
        "python3 kernel"
    ]
