"""Private files sent to the person allowed to see them: never cached by a shared cache,
named safely for every browser (an ASCII fallback and the UTF-8 name, RFC 6266)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response


def content_disposition(filename: str, *, inline: bool = False) -> str:
    ascii_name = (filename.encode("ascii", "replace").decode()
                  .replace('"', "").replace("?", "_").replace("\\", "_"))
    kind = "inline" if inline else "attachment"
    if ascii_name == filename:
        return f'{kind}; filename="{filename}"'
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def private_file(data: bytes, mimetype: str, filename: str, *, inline: bool = False) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(filename, inline=inline)
    response.headers["Cache-Control"] = "private, no-store"
    return response
