"""Reading an uploaded CSV safely, and writing one that a spreadsheet cannot be tricked by.

`read_rows` streams: a csv.reader over a text wrapper of the upload, one row at a time,
so memory stays flat whatever the file. It refuses, with a message naming the problem:
a file over `max_bytes` (PayloadTooLarge), more data rows than `max_rows`, a file that is
not UTF-8 (a UTF-8 byte-order mark is fine: Excel's "CSV UTF-8" writes one), a header
missing a required column or holding an unknown one (both named), and a row csv cannot
read (the line named).

`safe_cell` neutralises a formula: a cell starting with =, +, -, @, tab or carriage
return gets a leading apostrophe in every CSV written for download (OWASP's advice for
CSV injection), so a spreadsheet shows it as text and never evaluates it; a plain number
("-12", "3.5") stays a number. Every CSV download uses it (the bulk report, the org
export), and starts with a UTF-8 byte-order mark (BOM) so Excel reads the accents.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

from app.services.errors import PayloadTooLarge, ValidationFailed

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)
MAX_CELL = 4000  # characters in one cell; a notes column needs 2,000


class _Counted(io.RawIOBase):
    """The upload's bytes, counted as they are read; over `limit` raises PayloadTooLarge."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        self.read_bytes += len(data)
        if self.read_bytes > self._limit:
            raise PayloadTooLarge(too_large_message(self._limit))
        buffer[:len(data)] = data
        return len(data)


def too_large_message(limit: int) -> str:
    return (f"The file is larger than {limit / (1024 * 1024):.0f} MB. Split it into smaller "
            "files (each up to the row limit) and upload them one by one.")


def header_key(name: str) -> str:
    """'Recipient Email ' -> 'recipient_email'."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def read_rows(stream: IO[bytes], *, columns: Sequence[str], required: Sequence[str],
              aliases: Mapping[str, str], max_rows: int,
              max_bytes: int) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: text}) for each data row (the header is line 1; blank rows are
    skipped). Raises ValidationFailed or PayloadTooLarge as the module docstring says."""
    counted = _Counted(stream, max_bytes)
    text = io.TextIOWrapper(io.BufferedReader(counted), encoding="utf-8-sig", errors="strict",
                            newline="")
    reader = csv.reader(text, strict=False)
    line = 0
    try:
        header = next(reader, None)
        if header is None:
            raise ValidationFailed("The file is empty: it needs a header row and one row per "
                                   "recipient.", fields={"file": ["Empty file."]})
        names = [aliases.get(header_key(h), header_key(h)) for h in header]
        unknown = [h.strip() or f"(column {i + 1} has no name)"
                   for i, (h, n) in enumerate(zip(header, names, strict=True))
                   if n not in columns]
        missing = [c for c in required if c not in names]
        duplicated = sorted({n for n in names if names.count(n) > 1 and n in columns})
        problems = []
        if missing:
            problems.append("missing column" + ("s" if len(missing) > 1 else "") + ": "
                            + ", ".join(missing))
        if unknown:
            problems.append("unknown column" + ("s" if len(unknown) > 1 else "") + ": "
                            + ", ".join(unknown[:10]))
        if duplicated:
            problems.append("repeated column" + ("s" if len(duplicated) > 1 else "") + ": "
                            + ", ".join(duplicated))
        if problems:
            message = ("The header row does not match the template (" + "; ".join(problems)
                       + "). The columns are: " + ", ".join(columns) + ".")
            raise ValidationFailed(message, fields={"file": [message]})
        count = 0
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            count += 1
            if count > max_rows:
                message = (f"The file has more than {max_rows:,} rows; one upload takes at "
                           f"most {max_rows:,}. Split it and upload the parts one by one.")
                raise ValidationFailed(message, fields={"file": [message]})
            if len(record) > len(names):
                extra = ValidationFailed(
                    f"Line {line} has {len(record)} cells but the header has {len(names)}: "
                    "check for an unquoted comma.", fields={"file": [f"Line {line}."]})
                raise extra
            if any("\x00" in cell for cell in record):
                # PostgreSQL text cannot hold NUL, so the row could not even be stored with
                # its verdict; no spreadsheet writes one.
                raise ValidationFailed(
                    f"Line {line} has a NUL character in a cell: this is not a CSV exported "
                    "from a spreadsheet. Export it again as 'CSV UTF-8'.",
                    fields={"file": [f"Line {line}."]})
            if any(len(cell) > MAX_CELL for cell in record):
                raise ValidationFailed(f"Line {line} has a cell over {MAX_CELL:,} characters.",
                                       fields={"file": [f"Line {line}."]})
            yield line, {name: (record[i] if i < len(record) else "")
                         for i, name in enumerate(names)}
    except UnicodeDecodeError as exc:
        near = f" (after line {line})" if line else ""
        message = ("The file is not UTF-8 text" + near + ". In your spreadsheet choose "
                   "Save as / Download -> 'CSV UTF-8' and upload that file.")
        raise ValidationFailed(message, fields={"file": [message]}) from exc
    except csv.Error as exc:
        message = f"Line {reader.line_num} cannot be read as CSV: {exc}."
        raise ValidationFailed(message, fields={"file": [message]}) from exc


def safe_cell(value: Any) -> str:
    """The text of a cell for a CSV download, a formula neutralised (see the module)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_line(cells: Sequence[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([safe_cell(c) for c in cells])
    return out.getvalue()
