"""``scripts/install``: potwatch on a Raspberry Pi (or any Debian 12), installed, updated or removed.

Runs on the system's own Python (3.11 on bookworm) with the standard library
only: it is what builds the venv, so it cannot live in it.
"""
