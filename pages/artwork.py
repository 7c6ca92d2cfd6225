"""One artwork on its own page (``/artwork?art=<id>``); the view lives with the gallery."""

from __future__ import annotations

from pages.gallery import render_artwork as render

__all__ = ["render"]


if __name__ == "__main__":
    from ui.context import cold_start

    cold_start()
