"""The JSON-LD contexts an Open Badges credential, a status list and our key documents
use, served offline: RDF canonicalization (eddsa-rdfc-2022) never fetches anything.

A context comes from a file: the W3C VC 2.0, Multikey and DID contexts from the npm
packages the Makefile installs (`@digitalbazaar/credentials-context`,
`@digitalbazaar/multikey-context`, `did-context` in node_modules), the Open Badges 3.0.3
context from the standards folder (`../shared/standards/ob3/`). JSONLD_NODE_MODULES and
JSONLD_STANDARDS_DIR override where they are looked for. Any other URL is refused
(`UnknownContext`), so a document naming a context we do not hold cannot be signed.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
DID_V1 = "https://www.w3.org/ns/did/v1"

_ROOT = Path(__file__).resolve().parents[3]
# URL -> (where, relative path): "npm" under node_modules, "standards" under the folder.
_FILES = {
    VC_V2: ("npm", "@digitalbazaar/credentials-context/contexts/v2.jsonld"),
    MULTIKEY_V1: ("npm", "@digitalbazaar/multikey-context/contexts/multikey-v1.jsonld"),
    DID_V1: ("npm", "did-context/contexts/did-v1.jsonld"),
    OB_V3: ("standards", "ob3/context-3.0.3.json"),
}


class UnknownContext(Exception):
    """A document names a context (or any URL) that is not one of the files above."""


def _dirs() -> dict[str, Path]:
    config = current_app.config if has_app_context() else {}
    return {"npm": Path(config.get("JSONLD_NODE_MODULES") or _ROOT / "node_modules"),
            "standards": Path(config.get("JSONLD_STANDARDS_DIR")
                              or _ROOT.parent / "shared" / "standards")}


@lru_cache(maxsize=16)
def _read(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def context(url: str) -> dict[str, Any]:
    """The context document of `url` (a copy), or UnknownContext."""
    entry = _FILES.get(url)
    if entry is None:
        raise UnknownContext(f"Refusing to load {url!r}: not a context held offline.")
    where, relative = entry
    path = _dirs()[where] / relative
    if not path.is_file():
        raise UnknownContext(f"The context {url} is missing: {path} (run `make static`).")
    return copy.deepcopy(_read(str(path)))


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """A PyLD document loader that serves only the contexts above."""
    return {"contextUrl": None, "documentUrl": url, "document": context(url)}
