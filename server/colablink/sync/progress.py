"""How sync reports long work: the CLI draws a rich bar, the helper sends ``$/progress``."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def begin(self, phase: str, files: int, nbytes: int) -> None: ...
    def advance(self, files: int, nbytes: int) -> None: ...
    def end(self) -> None: ...


class NoProgress:
    def begin(self, phase: str, files: int, nbytes: int) -> None:
        pass

    def advance(self, files: int, nbytes: int) -> None:
        pass

    def end(self) -> None:
        pass
