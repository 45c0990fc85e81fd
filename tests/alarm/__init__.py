"""Tests of the alarm channels, the dispatcher and its wiring."""
