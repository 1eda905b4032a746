"""Build the Pinecone cost-usage export fixture, a zip of FOCUS 1.4 CSV parts, from its committed members.

``tests/data/pinecone_cost_usage_export/`` holds the members as text (``part-1-of-2.csv``, ``part-2-of-2.csv``,
``manifest.json``), written by hand in the shape Pinecone documents (docs.pinecone.io, API reference 2026-07,
"Create a cost usage export"); ``tests/data/pinecone_cost_usage_export.zip`` is built from them, deterministically
(fixed member times, order and compression), so the bytes change only when a member does. After editing a member::

    .venv/bin/python tests/pinecone_fixture.py

``tests/test_pinecone.py`` checks that the committed zip is what this builds. The tests also build variants on the
fly (another export of the period, a part left out, a broken manifest) with :func:`build_zip`.

The export: organisation ``Acme Labs`` (BillingAccountId), projects ``rag-prod`` and ``search-staging``
(SubAccount), serverless indexes ``docs-index``, ``support-kb`` (rag-prod) and ``eval-index`` (search-staging) on
AWS us-east-1, on 2026-11-01 and 2026-11-02, Standard plan list prices: read units $16 per million, write units $4
per million, storage $0.33 per GB-month, ``multilingual-e5-large`` $0.08 and ``llama-text-embed-v2`` $0.16 per
million tokens, ``pinecone-rerank-v0`` $2 per thousand requests; the month's usage ($47.744) is below the $50
minimum, so a ``Minimum usage commitment`` adjustment of $2.256 brings November to $50.000. 21 records: 11 in part 1,
10 in part 2.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
MEMBERS = DATA / "pinecone_cost_usage_export"
FIXTURE = DATA / "pinecone_cost_usage_export.zip"
#: Member order in the archive (the manifest last, as an export writes it once the parts are done).
ORDER = ("part-1-of-2.csv", "part-2-of-2.csv", "manifest.json")
_TIME = (2026, 12, 2, 6, 0, 0)


def members() -> dict[str, bytes]:
    """Return the committed members, by name, in archive order."""
    return {name: (MEMBERS / name).read_bytes() for name in ORDER}


def build_zip(
    files: Mapping[str, bytes | str], *, compression: int = zipfile.ZIP_DEFLATED, comment: bytes = b""
) -> bytes:
    """Return the bytes of a zip holding ``files`` (name -> content), in order, with fixed member times."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=_TIME)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            archive.writestr(info, content.encode() if isinstance(content, str) else content)
        archive.comment = comment
    return out.getvalue()


def manifest(**changes: object) -> str:
    """Return the committed manifest's text with top-level fields changed (a value None removes the field)."""
    doc = json.loads((MEMBERS / "manifest.json").read_text(encoding="utf-8"))
    doc.update(changes)
    return json.dumps({k: v for k, v in doc.items() if v is not None}, indent=2) + "\n"


def build() -> bytes:
    """Return the fixture's bytes, built from the committed members."""
    return build_zip(members())


if __name__ == "__main__":
    FIXTURE.write_bytes(build())
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")
