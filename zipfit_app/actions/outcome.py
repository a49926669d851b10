"""What an action did: the problem that stopped it, if any, and notes worth showing."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


def failed(problem: str, notes: list[str] | None = None) -> Outcome:
    return Outcome(problem, notes or [])
