"""How far an import has got, for a caller that shows it (the CLI's bar).

An import is one transaction and all-or-nothing; what it reports changes
nothing it does. It reports (stage, rows done, rows in all or None while
unknown) for each stage: READ (rows read from the file), CHECK (rows
validated), WRITE (rows written). A roster or projects file is read whole,
then checked, then written, one stage after another; the records import
streams its file a chunk at a time, so its three stages go on together
(records.py). How many rows there are is known only once the file is read:
until then `total` is None, or, for a CSV, its count of line breaks (exact
unless cells hold line breaks or rows are blank). Each stage's last report
has the true total, done = total. Reports come every EVERY rows and once at
the end of a stage, so a caller pays a call per few thousand rows, not per
row."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int | None], None]

READ, CHECK, WRITE = "read", "check", "write"
EVERY = 2_000


class Counter:
    """The rows of one stage, reported every EVERY rows and at finish()."""

    def __init__(self, progress: Progress | None, stage: str, total: int | None = None) -> None:
        self.progress, self.stage, self.total = progress, stage, total
        self.done = self._reported = 0

    def start(self) -> Counter:
        """Say the stage has begun (for a stage whose first rows take a while)."""
        if self.progress is not None:
            self.progress(self.stage, self.done, self.total)
        return self

    def add(self, n: int = 1) -> None:
        self.done += n
        if self.progress is not None and self.done - self._reported >= EVERY:
            self._reported = self.done
            self.progress(self.stage, self.done, self.total)

    def finish(self) -> None:
        if self.progress is not None:
            self._reported = self.done
            self.progress(self.stage, self.done, self.total if self.total is not None else self.done)
