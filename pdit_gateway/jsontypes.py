"""The one name for a JSON object the gateway handles: a frame, an event, a kernel message."""

from __future__ import annotations

from typing import Any

#: A decoded JSON object (a protocol frame or event, an output item, a kernel message or its
#: content).
JSONDict = dict[str, Any]
