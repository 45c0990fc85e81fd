"""HTTP: the phone page, the JSON API, server-sent events, health and metrics."""
