"""One encoding of stage results as bytes, driven by the dataclasses' own fields and types.

A value is encoded as JSON: a dataclass as the list of its fields in declaration order,
tuples, lists and frozensets as lists (frozensets sorted, so equal values give equal bytes),
dicts with text keys as objects. Decoding follows the type hints of the dataclass, so a new
field needs no code here. Fields declared with `compare=False` are derived from the others
(a parsed tree, say): they are left out and come back as their default.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Decoder = Callable[[Any], Any]


class CodecError(ValueError):
    """Bytes that are not the encoding of a value of the type asked for."""


def encode(value: object) -> bytes:
    """`value` as compact JSON bytes."""
    plain = value if isinstance(value, str) else _encoder(typing.cast(Any, type(value)))(value)
    return json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()


def decode(kind: type[T], payload: bytes) -> T:
    """The value of type `kind` that `encode` turned into `payload`; CodecError otherwise."""
    try:
        data = json.loads(payload)
        value: T = _decoder(typing.cast(Any, kind))(data)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise CodecError(f"not an encoded {kind.__name__}: {exc}") from None
    return value


Encoder = Callable[[Any], Any]


@functools.cache
def _encoder(kind: Any) -> Encoder:
    """A function from a value of `kind` to its JSON form, built once per type (a build
    encodes tens of thousands of values, so the type is looked at once, not per value)."""
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind, vars(sys.modules[kind.__module__]))
        fields = [(f.name, _encoder(hints[f.name])) for f in _stored_fields(kind)]
        return lambda value: [part(getattr(value, name)) for name, part in fields]
    origin = typing.get_origin(kind)
    arguments = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        inner = _encoder(next(a for a in arguments if a is not type(None)))
        return lambda value: None if value is None else inner(value)
    if origin in (tuple, list):
        items = [a for a in arguments if a is not Ellipsis]
        if len(items) == 1 and items[0] in (str, int, bool, float):
            return list
        if len(items) == 1:
            item = _encoder(items[0])
            return lambda value: [item(x) for x in value]
        members = [_encoder(a) for a in items]
        return lambda value: [part(x) for part, x in zip(members, value, strict=True)]
    if origin in (frozenset, set):
        item = _encoder(arguments[0])
        return lambda value: sorted(item(x) for x in value)
    if origin is dict:
        item = _encoder(arguments[1])
        return lambda value: {str(k): item(v) for k, v in value.items()}
    if kind in (str, int, float, bool, type(None)) or kind is Any or kind is object:
        return _itself
    raise TypeError(f"cannot encode a {kind!r}")


def _itself(value: Any) -> Any:
    return value


@functools.cache
def _stored_fields(kind: type) -> tuple[dataclasses.Field[Any], ...]:
    return tuple(f for f in dataclasses.fields(kind) if f.compare)


@functools.cache
def _decoder(kind: Any) -> Decoder:
    """A function from the JSON form to a value of `kind`, built once per type."""
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _dataclass_decoder(kind)
    origin = typing.get_origin(kind)
    arguments = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return _optional_decoder(arguments)
    if origin is tuple:
        return _tuple_decoder(arguments)
    if origin in (list, frozenset, set):
        item = _decoder(arguments[0])
        return lambda data: origin(item(x) for x in _checked(data, list))
    if origin is dict:
        value = _decoder(arguments[1])
        return lambda data: {str(k): value(v) for k, v in _checked(data, dict).items()}
    if kind in (str, int, float, bool):
        return functools.partial(_scalar, kind)
    if kind is Any or kind is object:
        return lambda data: data
    raise TypeError(f"cannot decode a {kind!r}")


def _dataclass_decoder(kind: type) -> Decoder:
    hints = typing.get_type_hints(kind, vars(sys.modules[kind.__module__]))
    stored = _stored_fields(kind)
    parts = [(f.name, _decoder(hints[f.name])) for f in stored]

    def decode_fields(data: Any) -> Any:
        items = _checked(data, list)
        if len(items) != len(parts):
            raise ValueError(f"{kind.__name__} has {len(parts)} stored fields, not {len(items)}")
        return kind(**{name: part(item) for (name, part), item in zip(parts, items, strict=True)})

    return decode_fields


def _optional_decoder(arguments: tuple[Any, ...]) -> Decoder:
    others = [a for a in arguments if a is not type(None)]
    if len(others) != 1:
        raise TypeError(f"cannot decode a union of {others!r}")
    inner = _decoder(others[0])
    return lambda data: None if data is None else inner(data)


def _tuple_decoder(arguments: tuple[Any, ...]) -> Decoder:
    if len(arguments) == 2 and arguments[1] is Ellipsis:
        item = _decoder(arguments[0])
        return lambda data: tuple(item(x) for x in _checked(data, list))
    parts = [_decoder(a) for a in arguments]

    def decode_items(data: Any) -> tuple[Any, ...]:
        return tuple(part(x) for part, x in zip(parts, _checked(data, list), strict=True))

    return decode_items


def _scalar(kind: type, data: Any) -> Any:
    if kind is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if type(data) is not kind:
        raise TypeError(f"expected {kind.__name__}, found {type(data).__name__}")
    return data


def _checked(data: Any, kind: type) -> Any:
    if not isinstance(data, kind):
        raise TypeError(f"expected a JSON {kind.__name__}, found {type(data).__name__}")
    return data
