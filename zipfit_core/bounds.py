"""The range of every whole number a user can type: one check for the CLI, the app and the app's links.

`WholeNumbers(minimum, maximum).check(name, value)` takes an int, a whole float or the text of one (a flag's or
a link's value) and returns the int, or raises a ZipFitError naming the parameter and its range. Text longer
than the maximum's digits is refused before Python converts it (converting 4,300 digits or more raises, and a
huge number would reach numpy, Arrow or the allocator).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from zipfit_core.errors import ZipFitError


@dataclass(frozen=True)
class WholeNumbers:
    """The whole numbers from `minimum` to `maximum`, both included."""

    minimum: int
    maximum: int

    def describe(self) -> str:
        return f"a whole number from {self.minimum:,} to {self.maximum:,}"

    def check(self, name: str, value: object) -> int:
        """`value` as an int in this range; `name` is what the message calls it (e.g. "`seed`", "--workers")."""
        number = self._whole(value)
        if number is None or not self.contains(number):
            raise self._refusal(name, value)
        return number

    def require(self, name: str, value: object) -> None:
        """Raise unless `value` already is an int in this range (for records built from checked values)."""
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not self.contains(int(value)):
            raise self._refusal(name, value)

    def _refusal(self, name: str, value: object) -> ZipFitError:
        if isinstance(value, numbers.Integral) and abs(int(value)) >= 10**40:  # repr fails at 4,300 digits
            shown = f"a number of about {int(abs(int(value)).bit_length() * 0.30103) + 1:,} digits"
        else:
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        return ZipFitError(f"{name} must be {self.describe()} (got {shown}).")

    def contains(self, number: int) -> bool:
        return self.minimum <= number <= self.maximum

    def _whole(self, value: object) -> int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, str):
            text = value.strip().replace("_", "")
            digits = len(str(max(abs(self.minimum), abs(self.maximum))))
            if len(text.lstrip("+-").lstrip("0")) > digits + 2:  # far out of range, whatever else it says
                return None
            try:
                return int(text)
            except ValueError:
                pass
            try:
                value = float(text)
            except ValueError:
                return None
        if isinstance(value, float) or hasattr(value, "__float__"):
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                return None
            # A float above 2**53 no longer holds every whole number: such a value is no count anyone meant.
            if not math.isfinite(number) or number != int(number) or abs(number) > 2**53:
                return None
            return int(number)
        return None


SEEDS = WholeNumbers(0, 2**32 - 1)  # what every random generator here accepts (numpy's legacy one included)
ROW_COUNTS = WholeNumbers(1, 10**12)  # a row limit or a sample size
ROW_NUMBERS = WholeNumbers(0, 10**12)  # a row's position
CUT_COUNTS = WholeNumbers(0, 10**15)  # a top K or a token budget: below 2**53, so that a float holds it exactly
WORKERS = WholeNumbers(1, 1024)  # threads of one process
MATCH_COUNTS = WholeNumbers(1, 10**12)  # pool rows an n-gram may be in and still count as copying (`max_matches`)
