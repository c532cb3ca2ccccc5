"""Errors about bad input: each names the file and says what to do."""

from __future__ import annotations


class BadInputError(ValueError):
    """An input file or record cannot be used. ``path`` names it, ``fix`` says what to do."""

    def __init__(self, path: str, problem: str, fix: str, utt_id: str | None = None):
        self.path, self.problem, self.fix, self.utt_id = str(path), problem, fix, utt_id
        super().__init__(f"{path}: {problem}. {fix}")


class BadInputErrors(BadInputError):
    """Several inputs cannot be used: every problem found in one pass, each with its file and
    fix, so that a user fixes them all before the next run (not one per rerun). ``errors`` holds
    them; ``path``, ``problem`` and ``fix`` are those of the first."""

    def __init__(self, errors: list[BadInputError]):
        if not errors:
            raise ValueError("BadInputErrors needs at least one error")
        self.errors = list(errors)
        first = self.errors[0]
        self.path, self.problem, self.fix, self.utt_id = first.path, first.problem, first.fix, first.utt_id
        listing = "\n".join(f"  - {err}" for err in self.errors)
        ValueError.__init__(
            self,
            f"{len(self.errors)} inputs cannot be used (on_bad_input: error; on_bad_input: skip leaves them "
            f"out and lists them in skipped.tsv):\n{listing}",
        )
