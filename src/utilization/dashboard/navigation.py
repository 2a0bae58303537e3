"""Where the dashboard's viewer is: the filters on screen and the way back.

The agency page drills down to a client or a procedure (from a filter or a row of the
detail table); every change of the filters is a step, and Back returns to the page before
it, down to the first one. A frozen value: each move returns a new `Navigation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from utilization.dashboard.filters import DashboardFilters


@dataclass(frozen=True)
class Navigation:
    """The filters on screen and the pages before them, oldest first."""

    current: DashboardFilters = field(default_factory=DashboardFilters)
    history: tuple[DashboardFilters, ...] = ()

    def go(self, filters: DashboardFilters) -> Navigation:
        """Show `filters`; the current page becomes the one Back returns to. Choosing what is
        already on screen is no step.
        """
        if filters == self.current:
            return self
        return Navigation(filters, (*self.history, self.current))

    def drill(self, kind: Literal["client", "procedure"], ident: str) -> Navigation:
        """Open one client's or one procedure's page (a row of the detail table), keeping the
        period, payer, fieldworker and basis.
        """
        return self.go(self.current.drill(kind, ident))

    def back(self) -> Navigation:
        """The page before this one (the same page when there is none)."""
        if not self.history:
            return self
        return Navigation(self.history[-1], self.history[:-1])

    @property
    def can_go_back(self) -> bool:
        """Whether there is a page to go back to."""
        return bool(self.history)

    @property
    def previous(self) -> DashboardFilters | None:
        """The page Back returns to, if any."""
        return self.history[-1] if self.history else None
