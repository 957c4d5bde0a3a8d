"""Memoisation of the pipeline's pure stages, and the whole result of a notebook's last build.

The stages know nothing of this: each takes, for its unit of work (a cell, a step, a chunk of
formatted code), a function from a batch of inputs to their results, and the orchestration
hands it the memoised one. An entry is keyed by the stage's name, the options that matter to
that stage and a digest of the input, on top of nb2prod's own version and code (`key`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from nb2prod.caching.codec import CodecError, decode, encode
from nb2prod.caching.store import Cache, NoCache, Pack, key
from nb2prod.errors import Diagnostic

Unit = TypeVar("Unit")  # the input of a stage's unit of work
Text = TypeVar("Text", bound="str | None")  # what a unit of work makes of a text
Result = TypeVar("Result")


class Memo:
    """Stage results kept in one notebook's pack: what this build uses is kept for the next."""

    def __init__(self, pack: Pack | None = None) -> None:
        self.pack = pack

    def wrap(
        self,
        stage: str,
        compute: Callable[[Sequence[Unit]], Sequence[Result | None]],
        *,
        digest: Callable[[Unit], str],
        kind: Any,
        options: str = "",
    ) -> Callable[[Sequence[Unit]], list[Result | None]]:
        """`compute`, answering from the pack what earlier builds computed and computing the
        rest in one batch. A None result means there is nothing to keep for that input."""
        if self.pack is None:
            return lambda items: list(compute(items))
        pack = self.pack

        def memoised(items: Sequence[Unit]) -> list[Result | None]:
            keys = [key(stage, options, digest(item)) for item in items]
            results: list[Result | None] = [_found(pack, stage, k, kind) for k in keys]
            missing = [i for i, found in enumerate(results) if found is None]
            computed = compute([items[i] for i in missing]) if missing else []
            for i, value in zip(missing, computed, strict=True):
                results[i] = value
                if value is not None:
                    pack.put(stage, keys[i], encode(value))
            return results

        return memoised

    def save(self) -> None:
        """Keep this build's entries for the next build."""
        if self.pack is not None:
            self.pack.save()


class Recent:
    """Texts a unit of work turned into texts (a section of code into its formatted form), kept
    in this process's memory for the builds it runs next.

    A folder build's process builds many notebooks whose packages share most of their command
    line's and tests' helpers (a quarter of the lines black formats for the speed benchmark's
    100 corpus notebooks are in a section another of them has too), and each notebook's pack
    only knows its own. Beyond `budget` characters of
    input and result, the least recently used go first.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.kept: OrderedDict[str, str] = OrderedDict()
        self.size = 0

    def wrap(
        self, compute: Callable[[Sequence[str]], Sequence[Text]]
    ) -> Callable[[Sequence[str]], list[Text]]:
        """`compute`, answering what this process computed before and computing the rest in one
        batch. A None result (nothing to keep) is not kept."""

        def remembered(texts: Sequence[str]) -> list[Text]:
            done: dict[str, Text] = {}
            for text in texts:
                if text in self.kept:
                    self.kept.move_to_end(text)
                    done[text] = cast(Text, self.kept[text])
            missing = [text for text in dict.fromkeys(texts) if text not in done]
            for text, result in zip(missing, compute(missing) if missing else [], strict=True):
                done[text] = result
                if result is not None:
                    self._keep(text, result)
            return [done[text] for text in texts]

        return remembered

    def _keep(self, text: str, result: str) -> None:
        self.kept[text] = result
        self.size += len(text) + len(result)
        while self.size > self.budget and self.kept:
            old, gone = self.kept.popitem(last=False)
            self.size -= len(old) + len(gone)


def _found(pack: Pack, stage: str, entry: str, kind: Any) -> Any:
    payload = pack.get(stage, entry)
    if payload is None:
        return None
    try:
        return decode(kind, payload)
    except CodecError:
        return None  # damaged: computed and kept again


@dataclass(frozen=True)
class Outcome:
    """A build's generated files and warnings, under the key of everything they depend on."""

    key: str
    files: dict[str, str]
    warnings: tuple[Diagnostic, ...]


class Outcomes:
    """The whole result of each notebook's last build, one entry per notebook.

    A rebuild of an unchanged notebook (into the same folder or a fresh one) is answered from
    here without running any stage; its files are still compared with what is on disk.
    """

    KIND = "result"

    def __init__(self, store: Cache | None, name: str) -> None:
        self.store = store or NoCache()
        self.name = name

    def get(self, build_key: str) -> Outcome | None:
        payload = self.store.get(self.KIND, self.name)
        if payload is None:
            return None
        try:
            outcome = decode(Outcome, payload)
        except CodecError:
            return None
        return outcome if outcome.key == build_key else None

    def put(self, outcome: Outcome) -> None:
        self.store.put(self.KIND, self.name, encode(outcome))
