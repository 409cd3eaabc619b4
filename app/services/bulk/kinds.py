"""What a kind of bulk import does with its rows, so that one pipeline (bulk.certificates:
preview, confirm, the job's claims and batches, progress, Resume, the report) serves every
kind: "certificates" (bulk.certificates) and "awards" (bulk.awards, micro-credentials).

A kind's module is named after it and registers its `Kind` when imported; `kind_of`
imports it the first time an import of that kind is handled (a job's worker included).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

#: (line, status, message, normalised data, row key) of one checked CSV row.
Checked = tuple[int, Any, str | None, dict[str, Any], str]


@dataclass(frozen=True)
class Words:
    verb: str    # "issue"
    past: str    # "issued"
    noun: str    # "certificate"
    nouns: str   # "certificates"
    title: str   # "Bulk issue certificates"
    doing: str   # "Issuing"


@dataclass(frozen=True)
class Kind:
    name: str
    words: Words
    columns: Sequence[str]
    required: Sequence[str]
    aliases: dict[str, str]
    template_rows: Sequence[Sequence[str]]
    #: Read what the checks need once per file (the catalogue).
    load: Callable[[], Any]
    #: Check a chunk of (line, raw) rows with the people they name (by lower-case email).
    check_chunk: Callable[[list[tuple[int, dict[str, str]]], Any, dict[str, Any]],
                          list[Checked]]
    #: What a row gives a person (two rows of a file giving the same thing: one refused).
    subject: Callable[[dict[str, Any]], tuple[Any, ...]]
    same_subject: str  # "Line {line} issues the same certificate to the same person."
    #: {row key: import} of the keys whose result still stands (done_key rows).
    live_done: Callable[[Iterable[str]], dict[str, int]]
    #: Clear the done_key of an earlier row with this key whose result no longer stands.
    release: Callable[[str], None]
    #: Do one confirmed row (in its SAVEPOINT): the row's outcome values (status ISSUED...).
    apply: Callable[[Any, Any, Any], dict[str, Any]]
    report_lines: Callable[[Any], Iterator[str]]
    #: Every row's outcome for the API's report.
    api_rows: Callable[[Any], list[dict[str, Any]]]
    #: One row as the API shows it in a preview.
    row_to_api: Callable[[Any], dict[str, Any]]
    labels: dict[str, str] = field(default_factory=dict)  # row status -> words
    #: Set-based (optional, both or neither): do a batch of confirmed rows at once, in
    #: order, each row's outcome values as `apply` gives them or its refusal (a
    #: ServiceError); raising anything else undoes the batch, which then goes row by row.
    apply_many: Callable[[list[Any], Any, Any], list[Any]] | None = None
    #: `release` for many keys in one statement.
    release_many: Callable[[list[str]], None] | None = None
    #: Take the locks a batch's rows will take, in the global lock order, before the
    #: batch's SAVEPOINT (optional; kept if the batch then goes row by row).
    hold: Callable[[list[Any]], None] | None = None

    def label(self, status: Any) -> str:
        return self.labels.get(status.value, status.label)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> Kind:
    """The registered kind `name` (its module imported on first use). KeyError if none."""
    if name not in KINDS and name.isidentifier():
        importlib.import_module(f"app.services.bulk.{name}")
    return KINDS[name]
