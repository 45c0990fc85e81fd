"""Alarm channels that reach the cook while the page is dark: push, a buzzer and a voice (docs/alarm.md)."""
