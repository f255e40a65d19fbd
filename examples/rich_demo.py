"""# Rich output

Displays, JSON, images, stderr and a display updated in place.
Run it with `pdit-gateway run examples/rich_demo.py`.
"""

import struct
import sys
import zlib

from IPython.display import JSON, Image, Markdown, display


def png(width: int, height: int) -> bytes:
    """A small gradient PNG, built with the standard library alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 160))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


Image(png(64, 32))

JSON({"planets": ["Mercury", "Venus"], "count": 2})

print("a warning goes to stderr", file=sys.stderr)

progress = display(Markdown("starting…"), display_id=True)
for percent in (25, 50, 100):
    progress.update(Markdown(f"**{percent}%** done"))
