"""Where the files the service ships with are found: in the installed package, not the source tree.

The page (``service/api/static/``), the built-in recipes and the demo config
(``config/``, shipped as the package ``service.bundled``) are read through
the import system (``importlib``), so that a wheel installed into any venv finds them
exactly as a checkout does. Uvicorn's static files and the recipe loader want
real folders, so a resource is handed out as a ``Path``; pip always unpacks a
wheel, so one is there.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path


class NotInstalled(LookupError):
    """A folder the package ships with is missing: a broken install, said plainly."""


def _folder(package: str) -> Path:
    # The data folders hold no __init__.py (a page and TOML files), so they import as namespace
    # packages; the spec's search location is the real folder, in a wheel and in a checkout alike.
    spec = find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise NotInstalled(f"{package} is not installed with potwatch: reinstall it (pip install potwatch)")
    return Path(locations[0])


def page_dir() -> Path:
    """The phone page: index.html and its scripts."""
    return _folder("service.api.static")


def builtin_profiles_dir() -> Path:
    """The recipes every install has (rillons, caramel, …): config/profiles/ in a checkout."""
    return _folder("service.bundled.profiles")


def demo_config() -> Path:
    """The config ``potwatch demo`` runs with: config/demo.toml in a checkout."""
    return _folder("service.bundled") / "demo.toml"


def starter_config() -> Path:
    """One probe, no cook, no MQTT: what an install copies to /etc/potwatch/ and then edits."""
    return _folder("service.bundled") / "potwatch.toml"


def example_config() -> Path:
    """Every option, commented: the reference a cook reads next to the starter config."""
    return _folder("service.bundled") / "example.toml"
