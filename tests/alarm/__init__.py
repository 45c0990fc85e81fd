"""Tests of the alarm channels."""
