"""What a migration did: counts per kind of record and what it skipped, with the reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class MigrationReport:
    """Counts of what was written (``written``), found already there (``present``) and
    ``skipped`` items as ``(kind, name, reason)``."""

    direction: str
    written: Counter = field(default_factory=Counter)
    present: Counter = field(default_factory=Counter)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)

    def skip(self, kind: str, name: str, reason: str) -> None:
        self.skipped.append((kind, name, reason))

    def summary(self) -> str:
        kinds = sorted(set(self.written) | set(self.present))
        lines = [
            f"{self.direction}: "
            + (
                ", ".join(
                    f"{kind}: {self.written[kind]} written, {self.present[kind]} already there"
                    for kind in kinds
                )
                or "nothing to do"
            )
        ]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            lines += [f"  {kind} {name}: {reason}" for kind, name, reason in self.skipped]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
