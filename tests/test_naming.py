"""Package names and identifiers made from notebook text."""

from __future__ import annotations

import pytest

from nb2prod.naming import NameAllocator, package_name, snake_case

PACKAGES = [
    pytest.param("churn_deploy", "churn_deploy", id="already fine"),
    pytest.param("Churn Deploy (v2)", "churn_deploy_v2", id="spaces and brackets"),
    pytest.param("2024-05-01_deploy", "nb_2024_05_01_deploy", id="leading digit"),
    pytest.param("churn--deploy", "churn_deploy", id="runs become one underscore"),
    pytest.param("données_deploy", "donnees_deploy", id="accents folded"),
    pytest.param("json", "nb_json", id="standard library name"),
    pytest.param("class", "nb_class", id="keyword"),
    pytest.param("...", "notebook", id="nothing left"),
    pytest.param("Churn\nDeploy \"v2\" '''", "churn_deploy_v2", id="quotes and line breaks"),
    pytest.param("中文", "notebook", id="nothing ASCII left"),
    pytest.param("..\\..\\etc", "etc", id="never a path"),
]


@pytest.mark.parametrize(("stem", "name"), PACKAGES)
def test_package_name(stem: str, name: str) -> None:
    assert package_name(stem) == name


SNAKE = [
    pytest.param("Load the data", "load_the_data", id="words"),
    pytest.param("1. Load the Data!", "load_the_data", id="numbering and punctuation"),
    pytest.param("Données", "donnees", id="accents"),
    pytest.param("123", None, id="only digits"),
    pytest.param("", None, id="empty"),
]


@pytest.mark.parametrize(("text", "name"), SNAKE)
def test_snake_case(text: str, name: str | None) -> None:
    assert snake_case(text) == name


def test_allocator_avoids_taken_keywords_and_builtins() -> None:
    allocator = NameAllocator({"clean"})
    assert allocator.claim("clean") == "clean_step"
    assert allocator.claim("clean") == "clean_step_2"
    assert allocator.claim("len") == "len_step"
    assert allocator.claim("load") == "load"
