"""Where the files shipped with the code are: the one place that resolves them.

The templates (the certificate, the web pages, the stylesheet) live in the
repository's top-level `templates/` folder, which the wheel ships as the
package `ecert_templates` (setup.py maps it), so an editable checkout and an
installed wheel find them the same way, through importlib.resources. (The
rules profiles and the PDF's character list are package data of the
packages that read them.)
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path


class ResourceMissing(RuntimeError):
    """A file the installation should hold is not there: a broken install."""


@cache
def templates_dir() -> Path:
    """The templates folder, as a real directory (Flask and Jinja read files)."""
    return _directory("ecert_templates", "templates")


def _directory(package: str, what: str) -> Path:
    try:
        root = files(package)
    except ModuleNotFoundError:
        raise ResourceMissing(
            f"the {what} are not installed (package {package}): reinstall teacher-ecert"
        ) from None
    path = Path(str(root))
    if not path.is_dir():  # e.g. imported from a zip: not a layout this project ships
        raise ResourceMissing(f"the {what} must be a folder on disk, found {root!r}")
    return path
