"""``potwatch run`` with recording alarm channels, as a real process: for the page's "Test the alarm" button.

The service is wired as the command line wires it (``service.serve.Service``,
the alarm part on the hub, its route, health and metrics), only its channels
are ``RecordingChannel``s: a push that is accepted and a voice that fails
("espeak-ng not found"), so the page has both kinds of answer to show.

Run as ``python -m tests.support.alarm_service --config PATH --host H --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from service.alarm.part import AlarmPart
from service.config import load_config
from service.profiles import load_profiles
from service.serve import Service
from tests.support.alarm import RecordingChannel

COMMAND = [sys.executable, "-m", "tests.support.alarm_service"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    config = load_config(Path(args.config))
    channels = [RecordingChannel("push", "push:json"), RecordingChannel("voice", "voice", fail="espeak-ng not found")]
    part = AlarmPart.from_config(
        list(channels), config.alarm, page_url=f"http://{args.host}:{args.port}/", token=config.server.token
    )
    service = Service(config, load_profiles(), host=args.host, port=args.port, state=Path(args.config).parent)
    service.parts.append(part)
    service.collectors.append(part.collector())
    return asyncio.run(service.run())


if __name__ == "__main__":
    sys.exit(main())
