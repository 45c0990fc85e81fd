"""Closed-loop heat: what a heater under the pot should be doing, and why.

Pure like the rest of the core: no clock (every event carries ``at``), no I/O.
``controller.step(state, event, params) -> (state, outputs)`` is the one entry;
``safety.gate`` is the check every decision goes through; ``laws`` holds what
each step kind wants of the heat. ``service/runtime/heaters.py`` feeds it in ``potwatch run``.
"""
