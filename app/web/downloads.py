"""A table sent as a download, CSV or .xlsx (app/tabular.py): the one way every page exports."""
from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from flask import Response, abort, send_file, stream_with_context

from app.tabular import FORMATS, MIMETYPES, Sheet, csv_lines, xlsx_file


def table_download(stem: str, fmt: str, sheets: list[Sheet]) -> Response:
    """`stem.fmt`: CSV streams its first sheet line by line; .xlsx holds every sheet."""
    if fmt not in FORMATS:
        abort(404)
    name = f"{stem}.{fmt}"
    if fmt == "csv":
        _title, headers, rows = sheets[0]
        response = Response(stream_with_context(csv_lines(headers, rows)), mimetype=MIMETYPES["csv"])
    else:
        response = send_file(xlsx_file(sheets), mimetype=MIMETYPES["xlsx"])
    # RFC 6266: an ASCII name for old clients, the UTF-8 one (Chinese stems) for the rest.
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    response.headers["Content-Disposition"] = (f"attachment; filename=\"{ascii_name}\"; "
                                               f"filename*=UTF-8''{quote(name)}")
    return response


def one_sheet(title: str, headers: tuple, rows: Iterable[tuple]) -> list[Sheet]:
    return [(title, headers, rows)]
