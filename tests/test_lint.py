"""`nb2prod lint`: notebook names and dated data file names."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nb2prod.cli import app
from nb2prod.lint import LintRules, has_date, is_dated, name_findings

from notebooks import write_notebook

runner = CliRunner()
RULES = LintRules()


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        pytest.param("churn_deploy", [], id="description and one keyword"),
        pytest.param("2024-05-01_sales_cleaning", [], id="a date is not description"),
        pytest.param("ChurnExploration", [], id="camel case words"),
        pytest.param("Untitled3", ["untitled notebook"], id="untitled is flagged"),
        pytest.param("churn", ["no category keyword"], id="no keyword"),
        pytest.param("churn_cleaning_deploy", ["2 category keywords"], id="two keywords"),
        pytest.param("deploy", ["no description"], id="keyword alone"),
        pytest.param("a_b_c_d_e_f_deploy", ["has 6 words"], id="description too long"),
    ],
)
def test_name_findings(stem: str, expected: list[str]) -> None:
    found = name_findings(stem, RULES)
    assert len(found) == len(expected)
    for message, wanted in zip(found, expected, strict=True):
        assert wanted in message


@pytest.mark.parametrize(
    ("name", "dated"),
    [
        pytest.param("2024-05-01_customers.csv", True, id="dashes"),
        pytest.param("customers_2024_05_01.parquet", True, id="underscores"),
        pytest.param("customers20240501.csv", True, id="compact"),
        pytest.param("customers.csv", False, id="no date"),
        pytest.param("customers_2024-13-01.csv", False, id="month 13 is no date"),
        pytest.param("customers_2024-05_01.csv", False, id="mixed separators"),
        pytest.param("id_123456789.csv", False, id="long number is no date"),
    ],
)
def test_has_date(name: str, dated: bool) -> None:
    assert has_date(name) is dated


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_notebook(
        tmp_path / "nb" / "churn_deploy.ipynb",
        [
            "deploy: import pandas as pd\ndf = pd.read_csv('data/customers.csv')",
            "%time df.to_parquet('out/2024-05-01_scores.parquet')",
            "path = f'data/{day}_x.csv'\nother = f'data/{day}/plain.json'",
            "md: see 'notes.csv'",
        ],
    )
    write_notebook(tmp_path / "nb" / "churn_exploration.ipynb", ["pd.read_csv('raw.csv')"])
    write_notebook(tmp_path / "nb" / "Untitled.ipynb", ["x = 1"])
    write_notebook(tmp_path / "nb" / ".ipynb_checkpoints" / "Untitled.ipynb", ["x = 1"])
    return tmp_path


def test_lint_folder(project: Path) -> None:
    result = runner.invoke(app, ["lint", "nb"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "nb/Untitled.ipynb: untitled notebook; rename it to a short description and a "
        "category (e.g. churn_deploy.ipynb; one of exploration, cleaning, experimental, deploy)",
        "nb/churn_deploy.ipynb: cell 1, line 2: data file 'data/customers.csv' has no date in "
        "its name; name it like 2024-05-01_customers.csv",
        "nb/churn_deploy.ipynb: cell 3, line 2: data file 'data/{}/plain.json' has no date in "
        "its name; name it like 2024-05-01_plain.json",
    ]


def test_lint_clean_notebook_passes(project: Path) -> None:
    result = runner.invoke(app, ["lint", "nb/churn_exploration.ipynb"])
    assert result.exit_code == 0
    assert result.stdout == ""


def test_lint_settings(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.nb2prod]\nnotebooks = ["nb"]\n\n[tool.nb2prod.lint]\n'
        'exclude = ["nb/Untitled*"]\ndated_categories = ["cleaning"]\n'
    )
    result = runner.invoke(app, ["lint"])
    assert result.exit_code == 0, result.stdout


def test_lint_unreadable_notebook_is_a_finding(project: Path) -> None:
    (project / "nb" / "sales_cleaning.ipynb").write_text("{oops")
    result = runner.invoke(app, ["lint", "nb/sales_cleaning.ipynb", "nb/gone_deploy.ipynb"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("nb/sales_cleaning.ipynb: is not valid notebook JSON")
    assert lines[1] == "nb/gone_deploy.ipynb: no such file; check the path"


@pytest.mark.parametrize(
    ("path", "dated"),
    [
        pytest.param("s3://bucket/events/dt=2024-05-01/events.parquet", True, id="dt= partition"),
        pytest.param("events/date=20240501/part-0.parquet", True, id="another key, compact"),
        pytest.param("events/year=2024/month=05/day=01/part.parquet", True, id="year= partition"),
        pytest.param("events/dt={}/part.parquet", True, id="a date formatted in"),
        pytest.param("data/2024-05-01_x.csv", True, id="a dated file name"),
        pytest.param("events/dt=latest/events.parquet", False, id="a partition of no date"),
        pytest.param("2024-05-01/events.parquet", False, id="a dated folder is no partition"),
        pytest.param("events/region=eu/events.parquet", False, id="a partition by region"),
    ],
)
def test_is_dated(path: str, dated: bool) -> None:
    assert is_dated(path) is dated


def test_hive_partitions_and_broken_cells(project: Path) -> None:
    write_notebook(
        project / "nb" / "events_deploy.ipynb",
        [
            "deploy: import pandas as pd\n"
            "df = pd.read_parquet('s3://bucket/events/dt=2024-05-01/events.parquet')",
            "deploy: df.to_csv('out/region=eu/summary.csv'",
            "x = (",
        ],
    )
    result = runner.invoke(app, ["lint", "nb/events_deploy.ipynb"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "nb/events_deploy.ipynb: cell 2, line 1: the code does not parse ('(' was never closed), "
        "so its data file names cannot be checked; fix the cell",
        "nb/events_deploy.ipynb: cell 3, line 1: the code does not parse ('(' was never closed), "
        "so its data file names cannot be checked; fix the cell",
    ]
