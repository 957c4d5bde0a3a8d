"""The runtime's serving helpers: calls by name, JSON lines, request models from annotations."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Literal, Optional, TypedDict

import pydantic
import pytest

from nb2prod import runtime


class Listing(TypedDict):
    """A listing as the booking page sends it."""

    price: float
    rooms: int


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Window(pydantic.BaseModel):
    start: int
    end: int


def predict(
    listing: Listing,
    where: Point,
    window: Window | None = None,
    mode: Literal["fast", "slow"] = "fast",
    tags: Optional[list[str]] = None,  # noqa: UP045 - the notebook's spelling
    sizes: tuple[int, ...] = (),
    anything=None,
    json: int = 0,
) -> float:
    return listing["price"] * listing["rooms"] + where.x


ARGUMENTS = {"listing": {"price": 2, "rooms": 3}, "where": {"x": 1, "y": 2}}


@pytest.fixture(scope="module")
def model() -> type[pydantic.BaseModel]:
    model: type[pydantic.BaseModel] = runtime.request_model("PredictArguments", predict)
    return model


def test_a_body_becomes_the_arguments_typed_by_the_annotations(model: type) -> None:
    body = {
        **ARGUMENTS,
        "window": {"start": 1, "end": 2},
        "sizes": [1, 2],
        "anything": [{}],
        "json": 3,
    }
    given = runtime.arguments_of(model, json.dumps(body).encode())
    assert given == {
        "listing": {"price": 2.0, "rooms": 3},  # the TypedDict stays a dict
        "where": Point(1.0, 2.0),
        "window": Window(start=1, end=2),
        "sizes": (1, 2),  # an array for a tuple
        "anything": [{}],
        "json": 3,  # a name pydantic keeps for itself, by its alias
    }
    assert runtime.call_by_name(predict, given) == 7.0


def test_only_the_arguments_given_are_passed(model: type) -> None:
    """The function applies its own defaults to the others."""
    assert set(runtime.arguments_of(model, json.dumps(ARGUMENTS).encode())) == {"listing", "where"}


BAD = [
    pytest.param(
        {"listing": {"price": 2}, "where": {"x": 1, "y": 2}}, ("listing", "rooms"), id="missing key"
    ),
    pytest.param(
        {**ARGUMENTS, "listing": {"price": 2, "rooms": "3"}},
        ("listing", "rooms"),
        id="text for an int",
    ),
    pytest.param(
        {**ARGUMENTS, "listing": {"price": 2, "rooms": True}},
        ("listing", "rooms"),
        id="a bool for an int",
    ),
    pytest.param(
        {**ARGUMENTS, "listing": {"price": 2, "rooms": 3, "extra": 1}},
        ("listing", "extra"),
        id="unknown key inside",
    ),
    pytest.param({**ARGUMENTS, "other": 1}, ("other",), id="unknown argument"),
    pytest.param({"where": {"x": 1, "y": 2}}, ("listing",), id="missing argument"),
    pytest.param({**ARGUMENTS, "mode": "medium"}, ("mode",), id="not one of the literals"),
    pytest.param({**ARGUMENTS, "tags": [1]}, ("tags", 0), id="list item of another type"),
]


@pytest.mark.parametrize(("body", "where"), BAD)
def test_bodies_that_do_not_fit_are_refused(
    model: type, body: dict[str, object], where: tuple[object, ...]
) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        runtime.arguments_of(model, json.dumps(body).encode())
    assert where in [error["loc"] for error in caught.value.errors()]


def test_a_batch_of_cases_up_to_its_limit(model: type) -> None:
    body = json.dumps([ARGUMENTS, {**ARGUMENTS, "mode": "slow"}]).encode()
    assert [set(case) for case in runtime.cases_of(model, body, 2)] == [
        {"listing", "where"},
        {"listing", "where", "mode"},
    ]
    with pytest.raises(runtime.BatchTooLarge, match="at most 1 cases"):
        runtime.cases_of(model, body, 1)
    with pytest.raises(pydantic.ValidationError):
        runtime.cases_of(model, b'{"not": "a list"}', 10)


def test_the_schemas_the_docs_refer_to(model: type) -> None:
    schemas = runtime.component_schemas([model])
    assert {"PredictArguments", "Listing", "Point", "Window"} <= set(schemas)
    fields = schemas["PredictArguments"]["properties"]
    assert fields["listing"] == {"$ref": "#/components/schemas/Listing"}
    assert schemas["Listing"]["description"] == "A listing as the booking page sends it."
    assert schemas["PredictArguments"]["required"] == ["listing", "where"]


def double(x: int, /, scale: int = 2) -> int:
    return x * scale


def test_calls_by_name_reach_positional_only_arguments() -> None:
    assert runtime.call_by_name(double, {"x": 3}) == 6
    with pytest.raises(TypeError, match="unknown argument y"):
        runtime.call_by_name(double, {"y": 3})
    with pytest.raises(TypeError, match="missing a required argument: 'x'"):
        runtime.call_by_name(double, {"scale": 3})


def test_json_lines_give_one_result_per_line() -> None:
    out = io.StringIO()
    lines = ['{"x": 1}\n', "\n", '{"x": 2, "scale": 10}\n']
    assert runtime.score_lines(double, lines, lambda text: print(text, file=out)) == 2
    assert out.getvalue() == "2\n20\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("not json", "line 2: not JSON", id="not JSON"),
        pytest.param(
            "[1]", "line 2: not a JSON object of double's arguments by name", id="not an object"
        ),
        pytest.param(
            '{"z": 1}', "line 2: unknown argument z; it takes x, scale", id="unknown argument"
        ),
        pytest.param(
            '{"x": null}',
            "line 2: double raised TypeError: unsupported operand",
            id="the function raises",
        ),
    ],
)
def test_a_bad_line_is_named_after_the_results_before_it(line: str, message: str) -> None:
    written: list[str] = []
    with pytest.raises(runtime.LineError) as caught:
        runtime.score_lines(double, ['{"x": 1}', line, '{"x": 3}'], written.append)
    assert str(caught.value).startswith(message)
    assert caught.value.line == 2
    assert written == ["2"]


def test_file_sizes_read_as_people_read_them() -> None:
    sizes = [0, 999, 1000, 14_234, 999_949, 999_999, 3_100_000, 5 * 10**12]
    assert [runtime.file_size(size) for size in sizes] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "14.2 kB",
        "999.9 kB",
        "1.0 MB",
        "3.1 MB",
        "5.0 TB",
    ]
