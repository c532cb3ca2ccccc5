"""Errors about bad input: each names the file and says what to do."""

from __future__ import annotations


class BadInputError(ValueError):
    """An input file or record cannot be used. ``path`` names it, ``fix`` says what to do."""

    def __init__(self, path: str, problem: str, fix: str, utt_id: str | None = None):
        self.path, self.problem, self.fix, self.utt_id = str(path), problem, fix, utt_id
        super().__init__(f"{path}: {problem}. {fix}")
