"""What a push service is told besides the title and the body: its priority, and ntfy's ack button.

Apprise carries each service's own priority as a URL argument of that
service's plugin (ntfy's ``priority``, Pushover's ``priority``, ``interval``
and ``expire``), so the mapping is written here once per service, as those
arguments, and the channel hands them to Apprise with each message.

- **ntfy**: info 3 (its default), warning 4 (high), critical 5 (max) from the
  first send. 5 is ntfy's highest; there is nothing to rise to on escalation.
- **Pushover**: info 0, warning 1 (high), critical 1 at first and 2
  (emergency) once escalated. Emergency makes Pushover itself re-alert the
  phone every ``interval`` seconds until someone acknowledges *in the Pushover
  app*, up to ``expire``. potwatch's own acknowledgement cannot cancel that
  (Apprise does not cancel Pushover receipts), and potwatch already repeats a
  critical alert every 15 s, so emergency from the first send would double
  the repeats and keep ringing after the cook acknowledged on the page. Once
  nobody has answered for the escalation delay the issue's "critical uses the
  highest priority" wins: emergency, re-alerting every 30 s (Pushover's
  minimum) for at most 5 minutes, by when the caramel is long decided.
- **Every other service**: its default priority; the level still reaches it
  as Apprise's notify type (info, warning, failure), which many render.

A priority the user wrote in the URL (``ntfy://host/topic?priority=min``) is
kept: the channel only fills arguments the URL leaves out.
"""

from __future__ import annotations

from service.core.events import AlertLevel

NTFY_PRIORITY = {AlertLevel.INFO: "3", AlertLevel.WARNING: "4", AlertLevel.CRITICAL: "5"}
PUSHOVER_PRIORITY = {AlertLevel.INFO: "0", AlertLevel.WARNING: "1", AlertLevel.CRITICAL: "1"}
PUSHOVER_EMERGENCY = {"priority": "2", "interval": "30", "expire": "300"}


def priority_arguments(service: str, level: AlertLevel, escalated: bool) -> dict[str, str]:
    """The plugin arguments that carry ``level`` to ``service`` (Apprise's service name, e.g. "ntfy")."""
    if service == "ntfy":
        return {"priority": NTFY_PRIORITY[level]}
    if service == "Pushover":
        if level is AlertLevel.CRITICAL and escalated:
            return dict(PUSHOVER_EMERGENCY)
        return {"priority": PUSHOVER_PRIORITY[level]}
    return {}


def ntfy_ack_action(ack_url: str, ack_token: str | None) -> str:
    """ntfy's ``X-Actions`` header (its documented short form): one "Acknowledge" button that POSTs to ``ack_url``.

    ``clear=true`` removes the notification once the POST succeeded, so a
    cook sees that the acknowledgement went through. A value holding a comma
    or a semicolon (ntfy's separators) is quoted, as ntfy's format allows.
    """
    parts = ["http", "Acknowledge", _quoted(ack_url), "method=POST"]
    if ack_token:
        parts.append(f"headers.Authorization={_quoted('Bearer ' + ack_token)}")
    parts.append("clear=true")
    return ", ".join(parts)


def _quoted(value: str) -> str:
    if not any(c in value for c in ",;"):
        return value
    quote = "'" if '"' in value else '"'
    return f"{quote}{value}{quote}"
