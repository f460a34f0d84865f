"""Reading an HTTP request's body within a size limit, for the channels' webhooks."""

from __future__ import annotations

from sanic.request import Request


async def read_limited_body(request: Request, limit: int) -> bytes | None:
    """The body of a streaming route's request, or None when it is longer than `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    if request.stream is None:
        return bytes(request.body or b"")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
