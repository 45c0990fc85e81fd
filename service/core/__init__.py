"""The pure tracker: readings in, stages, alerts and time-to-target out.

Nothing here reads a clock, sleeps, logs or does I/O: every event carries its
own time, so the live service and ``potwatch replay`` run the same code.
"""
