"""The files potwatch ships with (demo config, example config, built-in recipes).

Installed as the package ``service.bundled`` (see pyproject.toml), so that an
installed potwatch finds them through the import system and a checkout keeps
them where a cook looks for them. No code lives here.
"""
