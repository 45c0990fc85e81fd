"""What ``potwatch doctor`` found: one finding per check, its verdict, and what to do about it.

Four verdicts, so that an unknown is never mistaken for a failure:

* ``ok``: checked, and fine;
* ``info``: worth knowing, nothing to fix (Home Assistant not heard from yet,
  a clock that cannot be asked);
* ``warn``: works now, may bite later (little disk left, a probe only an old
  retained value vouches for);
* ``FAIL``: potwatch will not work as configured until this is fixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["ok", "info", "warn", "FAIL"]
STATUSES: tuple[Status, ...] = ("ok", "info", "warn", "FAIL")

# The exit codes, in SPEC.md's spirit: 2 is what check-config says of a file it cannot use.
EXIT_WELL = 0  # nothing failed (warnings and information may have been printed)
EXIT_FAILED = 1  # at least one check failed
EXIT_CONFIG = 2  # the config file cannot be used (its problems printed as check-config prints them)


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict: ``detail`` says what was seen, ``fix`` what to do when it is not ok."""

    check: str
    status: Status
    detail: str
    fix: str = ""
    lines: tuple[str, ...] = ()  # shown as they are, below the finding (check-config's problem lines)


@dataclass(slots=True)
class Report:
    """Every finding in the order they are shown, and whether the config could be used at all."""

    config: str
    user: str
    findings: list[Finding] = field(default_factory=list)
    config_usable: bool = True

    def add(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    @property
    def exit_code(self) -> int:
        if not self.config_usable:
            return EXIT_CONFIG
        if any(f.status == "FAIL" for f in self.findings):
            return EXIT_FAILED
        return EXIT_WELL

    def counts(self) -> dict[str, int]:
        return {status: sum(f.status == status for f in self.findings) for status in STATUSES}


def render_text(report: Report, version: str) -> str:
    """One line per finding, its fix on the line below it, and a last line saying what it all means."""
    out = [f"potwatch doctor {version}: {report.config}, for the service user {report.user}"]
    for finding in report.findings:
        out.append(f"{finding.status:<4}  {finding.check}: {finding.detail}")
        out.extend(f"        {line}" for line in finding.lines)
        if finding.fix and finding.status != "ok":
            out.append(f"      → {finding.fix}")
    out.append(summary(report))
    return "\n".join(out)


def summary(report: Report) -> str:
    counts = report.counts()
    told = ", ".join(f"{counts[s]} {s}" for s in ("FAIL", "warn") if counts[s])
    if report.exit_code == EXIT_CONFIG:
        return f"the config cannot be used ({told}): fix the lines under 'config' first (exit {EXIT_CONFIG})"
    if report.exit_code == EXIT_FAILED:
        return f"{told}: fix the FAIL lines, then run potwatch doctor again (exit {EXIT_FAILED})"
    if counts["warn"]:
        return f"all well, with {told} to look at (exit {EXIT_WELL})"
    return f"all well (exit {EXIT_WELL})"


def render_json(report: Report, version: str) -> str:
    return json.dumps(
        {
            "version": version,
            "config": report.config,
            "user": report.user,
            "exit": report.exit_code,
            "counts": report.counts(),
            "findings": [_plain(f) for f in report.findings],
        },
        ensure_ascii=False,
        indent=2,
    )


def _plain(finding: Finding) -> dict[str, object]:
    data = asdict(finding)
    data["lines"] = list(finding.lines)
    return data


def worst(findings: Sequence[Finding]) -> Status:
    """The most serious verdict among ``findings`` (``ok`` for none)."""
    return max((f.status for f in findings), key=STATUSES.index, default="ok")
