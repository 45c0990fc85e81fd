"""The page's address as a QR code: scanned by a second phone instead of typed (segno, no network needed)."""

from __future__ import annotations

import io

import segno


def _code(text: str) -> segno.QRCode:
    # medium error correction: still reads off a greasy screen, and stays small for a short URL
    return segno.make(text, error="m", micro=False)


def qr_svg(text: str) -> bytes:
    """An SVG of ``text``'s QR code, black on white, scaled to be read across a kitchen counter."""
    out = io.BytesIO()
    _code(text).save(out, kind="svg", scale=8, border=4, dark="#000", light="#fff", title=text)
    return out.getvalue()


def qr_terminal(text: str) -> str:
    """The QR code in Unicode half blocks (no ANSI colours), readable in a terminal and in the journal."""
    out = io.StringIO()
    _code(text).terminal(out=out, compact=True, border=2)
    return out.getvalue()
