"""The error tree, grouped by what the operator must do, and its CLI exit codes.

    AlphaTraderError
    ├── TemporaryError          retry later: a vendor timed out, a lock is held      exit 75
    ├── ConfigError             fix the configuration (.env / environment)           exit 78
    ├── InputError              fix the command or the file you gave                 exit 2
    │   ├── UnknownNameError    an unknown strategy, parameter or symbol
    │   └── DataValidationError a file or series failed validation (with line numbers)
    ├── DataError               the stored data cannot serve the request              exit 65
    ├── StrategyError           a strategy raised or returned something invalid       exit 70
    └── NeedsHumanError         state is unknown or a safety stop tripped: decide     exit 3

Every message is one line that says what was wrong and what to do. `exit_code_for` is the one place
that maps errors to exit codes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AlphaTraderError(Exception):
    """Base of every error the product raises on purpose."""

    exit_code = 1


class TemporaryError(AlphaTraderError):
    exit_code = 75


class ConfigError(AlphaTraderError):
    exit_code = 78


class InputError(AlphaTraderError):
    exit_code = 2


class UnknownNameError(InputError):
    """An unknown name, with the closest known names suggested."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = "") -> None:
        known_list = sorted(known)
        close = difflib.get_close_matches(name, known_list, n=3, cutoff=0.6)
        suggestion = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listing = "" if close else f"; known: {', '.join(known_list)}"
        if len(listing) > 300:
            listing = listing[:297] + "..."
        super().__init__(f"unknown {kind} {name!r}{suggestion}{listing}{hint}")
        self.kind = kind
        self.name = name


class DataValidationError(InputError):
    """A file or series failed validation; `problems` holds one line per bad row."""

    def __init__(self, source: str, problems: list[str]) -> None:
        shown = "; ".join(problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{source}: {len(problems)} bad row(s), nothing imported: {shown}{more}")
        self.source = source
        self.problems = problems


class DataError(AlphaTraderError):
    exit_code = 65


class StrategyError(AlphaTraderError):
    """A strategy failed; names the strategy, the symbol and (when known) the date."""

    exit_code = 70

    def __init__(self, strategy: str, symbol: str, message: str, date: str | None = None) -> None:
        where = f"{strategy} on {symbol}" + (f" at {date}" if date else "")
        super().__init__(f"strategy {where}: {message}")
        self.strategy = strategy
        self.symbol = symbol
        self.date = date


class NeedsHumanError(AlphaTraderError):
    exit_code = 3


def exit_code_for(error: BaseException) -> int:
    if isinstance(error, AlphaTraderError):
        return error.exit_code
    return 1
