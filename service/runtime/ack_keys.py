"""A key that acknowledges one alert and does nothing else, for a push's "Acknowledge" button.

The button's request is carried by the push service (ntfy.sh caches it, and
every subscriber of the topic sees it), so it must not hold the ``[server]
token``, which can stop a cook. The key is an HMAC of the alert's id under the
token: the guard (``service.api.guard``) accepts it for that alert's
``POST /api/alerts/{id}/ack`` only, and it is useless once that alert is
answered. Without a token there is nothing to keep secret and no key.
"""

from __future__ import annotations

import hashlib
import hmac
import re

ACK_PATH = re.compile(r"^/api/alerts/([A-Za-z0-9_.:-]{1,64})/ack$")


def ack_key(token: str, alert_id: str) -> str:
    return hmac.new(token.encode(), b"ack:" + alert_id.encode(), hashlib.sha256).hexdigest()[:32]


def acks_only(path: str, given: bytes, token: str) -> bool:
    """Is ``given`` the key for the one alert this path acknowledges?"""
    found = ACK_PATH.match(path)
    return found is not None and hmac.compare_digest(given, ack_key(token, found.group(1)).encode())
