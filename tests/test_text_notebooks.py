"""Text notebooks read with jupytext: percent and light scripts, jupytext markdown and MyST.

The package a text notebook builds is the one its `.ipynb` builds, and messages name the file's
own lines, so an editor jumps to them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
from typer.testing import CliRunner

from nb2prod.build import Status, build_notebook
from nb2prod.cli import app
from nb2prod.notebook.reader import parse_text_notebook, read_notebook

from conftest import FIXTURES, build, split_options
from notebooks import write_notebook
from test_golden import options

runner = CliRunner()

FORMATS = [
    pytest.param("py:percent", ".py", id="percent"),
    pytest.param("py:light", ".py", id="light"),
    pytest.param("md", ".md", id="markdown"),
    pytest.param("md:myst", ".md", id="myst"),
]
# Golden cases without a recorded result (text notebooks keep no outputs), magics and marks of
# every dialect among them.
SAME_CASES = [
    "plain_pipeline",
    "parameters",
    "magics",
    "headings_to_step_names",
    "functions_reading_globals",
    "test_cells",
    "api_service",
    "kale_tags",
    "nbdev_marks",
    "repeated_warnings",
]

PERCENT = """\
# %% [markdown]
# # Churn

# %% tags=["parameters"]
n = 3

# %%
#| deploy
%time rows = list(range(n))
!pip install numpy

# %% tags=["deploy"]
len(rows)
"""


def _without_header(text: str, source: str, ipynb: str) -> str:
    """A generated file with its three header lines left out and the source named as the
    .ipynb: what may differ between the two builds."""
    return "\n".join(text.split("\n")[3:]).replace(source, ipynb)


def _unplaced(message: str) -> str:
    """A message with a text notebook's `line L (...)` taken back to the notebook's places."""
    return re.sub(r": line \d+ \((cells? [^)]*)\):", r": \1:", message)


@pytest.mark.parametrize(("fmt", "suffix"), FORMATS)
@pytest.mark.parametrize("case", SAME_CASES)
def test_text_notebook_builds_the_package_its_ipynb_builds(
    case: str, fmt: str, suffix: str, tmp_path: Path
) -> None:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    ipynb = folder / "input.ipynb"
    shutil.copy(FIXTURES / case / "input.ipynb", ipynb)
    text = folder / f"input{suffix}"
    jupytext.write(jupytext.read(ipynb), text, fmt=fmt)
    settings = options(FIXTURES / case)
    # Paths relative to tmp_path, the same wherever the checkout and the temporary folder
    # are: a longer path could cross black's line length in one build and not the other.
    from_ipynb = build_notebook(
        ipynb, *split_options(out=tmp_path / "a", root=tmp_path, name=case, **settings)
    )
    from_text = build_notebook(
        text, *split_options(out=tmp_path / "b", root=tmp_path, name=case, **settings)
    )
    assert from_ipynb.status is from_text.status is Status.WRITTEN, from_text.messages
    shown_text, shown_ipynb = text.as_posix(), ipynb.as_posix()
    assert [_unplaced(m).replace(shown_text, shown_ipynb) for m in from_text.messages] == list(
        from_ipynb.messages
    )
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.*"))
    assert files_a == files_b
    source_text, source_ipynb = f"notebooks/input{suffix}", "notebooks/input.ipynb"
    for rel in files_a:
        produced = (tmp_path / "b" / rel).read_text()
        expected = (tmp_path / "a" / rel).read_text()
        assert source_text in produced.split("\n")[0]
        assert _without_header(produced, source_text, source_ipynb) == _without_header(
            expected, source_ipynb, source_ipynb
        ), rel


@pytest.mark.parametrize(("fmt", "suffix"), FORMATS)
def test_each_code_cell_knows_its_line_in_the_file(fmt: str, suffix: str, tmp_path: Path) -> None:
    ipynb = tmp_path / "input.ipynb"
    shutil.copy(FIXTURES / "magics" / "input.ipynb", ipynb)
    text = tmp_path / f"input{suffix}"
    jupytext.write(jupytext.read(ipynb), text, fmt=fmt)
    lines = text.read_text().split("\n")
    notebook = read_notebook(text)
    code = [cell for cell in notebook.cells if cell.kind == "code"]
    assert code and all(cell.first_line is not None for cell in code)
    for cell in code:
        assert cell.first_line is not None
        for offset, line in enumerate(cell.source.split("\n")):
            in_file = lines[cell.first_line - 1 + offset]
            assert in_file in {line, f"# {line}"}, (cell.index, offset)
    assert [c.source for c in notebook.cells] == [c.source for c in read_notebook(ipynb).cells]


def test_a_percent_script_without_header_with_tags_and_comment_marks(tmp_path: Path) -> None:
    script = tmp_path / "churn_deploy.py"
    script.write_text(PERCENT)
    notebook = read_notebook(script)
    assert [(c.kind, c.tags, c.first_line) for c in notebook.cells] == [
        ("markdown", (), None),
        ("code", ("parameters",), 5),
        ("code", (), 8),
        ("code", ("deploy",), 13),
    ]
    result = build(script, tmp_path / "out")
    assert result.status is Status.WRITTEN, result.messages
    shown = script.as_posix()
    assert result.messages == (
        f"{shown}: line 9 (cell 3, line 2): warning: dropped %time; its statement is kept",
        f"{shown}: line 10 (cell 3, line 3): warning: dropped the shell command "
        "'!pip install numpy'",
    )
    pipeline = (tmp_path / "out" / "churn_deploy" / "churn_deploy" / "pipeline.py").read_text()
    assert "rows = list(range(n))" in pipeline
    assert pipeline.startswith("# Generated by nb2prod from ")
    assert "churn_deploy.py" in pipeline.split("\n")[0]


def test_an_error_names_the_files_line_and_the_cells(tmp_path: Path) -> None:
    script = tmp_path / "churn_deploy.py"
    script.write_text(
        "# %% tags=['deploy']\nx = 1\n\n# %% [markdown]\n# ## Fit\n\n"
        "# %% tags=['deploy']\ny = x + 1\nz = = 2\n"
    )
    result = build(script, tmp_path / "out")
    assert result.status is Status.FAILED
    (message,) = result.messages
    assert message.startswith(f"{script.as_posix()}: line 9 (cell 3, line 2): syntax error")
    assert script.read_text().split("\n")[8] == "z = = 2"


def test_the_light_format_with_a_header(tmp_path: Path) -> None:
    ipynb = write_notebook(tmp_path / "n.ipynb", ["parameters: n = 2", "deploy: n * 3"])
    light = tmp_path / "sales_deploy.py"
    jupytext.write(jupytext.read(ipynb), light, fmt="py:light")
    assert "format_name: light" in light.read_text()
    assert build(light, tmp_path / "out").status is Status.WRITTEN


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("import math\n\n\ndef area(r):\n    return math.pi * r * r\n", id="module"),
        pytest.param("# + tags=['deploy']\nx = 1\n", id="light format without a header"),
    ],
)
def test_a_python_module_is_not_a_notebook(text: str, tmp_path: Path) -> None:
    module = tmp_path / "deploy.py"
    module.write_text(text)
    result = build(module, tmp_path / "out")
    assert result.status is Status.FAILED
    assert "is a Python module, not a notebook" in result.messages[0]
    assert not (tmp_path / "out").exists()


def test_markdown_and_myst_read_their_tags(tmp_path: Path) -> None:
    myst = tmp_path / "churn_deploy.md"
    body = (
        "# Churn\n\n```{code-cell} ipython3\n:tags: [parameters]\n\nn = 3\n```\n\n"
        "```{code-cell} ipython3\n:tags: [deploy]\n\nn * 2\n```\n"
    )
    kernel = "kernelspec:\n  name: python3\n  display_name: Python 3\n  language: python\n"
    jupytext_header = (
        "jupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
    )
    for header, first in ((jupytext_header + kernel, 4), (kernel, 0)):
        myst.write_text(f"---\n{header}---\n\n{body}")
        notebook = read_notebook(myst)
        assert notebook.kernel == "python3"
        assert [(c.tags, c.first_line) for c in notebook.cells if c.kind == "code"] == [
            (("parameters",), 13 + first),
            (("deploy",), 19 + first),
        ]
    plain = parse_text_notebook('```python tags=["deploy"]\nx = 1\n```\n', ".md")
    assert [(c.tags, c.source, c.first_line) for c in plain.cells] == [(("deploy",), "x = 1", 2)]


def test_another_language_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "r_deploy.md"
    text.write_text(
        "---\njupyter:\n  kernelspec:\n    name: ir\n    language: R\n    display_name: R\n"
        "---\n\n```r\nx <- 1\n```\n"
    )
    result = build(text, tmp_path / "out")
    assert result.status is Status.FAILED
    assert "uses a r kernel" in result.messages[0]


def test_the_command_line_builds_and_checks_a_text_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("churn_deploy.py").write_text(PERCENT)
    built = runner.invoke(app, ["build", "churn_deploy.py"])
    assert built.exit_code == 0, built.stderr
    assert "churn_deploy.py: written -> build/churn_deploy" in built.stdout
    assert runner.invoke(app, ["build", "churn_deploy.py", "--check"]).exit_code == 0
    Path("churn_deploy.py").write_text(PERCENT.replace("n = 3", "n = 4"))
    stale = runner.invoke(app, ["build", "churn_deploy.py", "--check"])
    assert stale.exit_code == 1
    assert "churn_deploy.py: output is stale" in stale.stderr


def test_building_an_ipynb_does_not_import_jupytext(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "churn_deploy.ipynb", ["deploy: 1 + 1"])
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from nb2prod.build import build_notebook\n"
        "from nb2prod.options import BuildOptions, RunOptions\n"
        f"result = build_notebook(Path({str(notebook)!r}), BuildOptions(out=Path({str(tmp_path / 'out')!r})), RunOptions(cache=False))\n"
        "print(result.status.value, 'jupytext' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.split() == ["written", "False"], done.stderr
