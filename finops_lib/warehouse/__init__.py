"""Many files -> one warehouse: ingest (detection, de-duplication, provenance, rejects), its status, FOCUS export.

This package and :mod:`finops_lib.facts` are the only places that read or write the warehouse's tables.
"""

from finops_lib.cost_datasets import merge_cost_datasets
from finops_lib.warehouse.focus_export import export_focus, run_validator, validator_failures
from finops_lib.warehouse.ingestion import discover, ensure_tables, ingest, open_data, summarize
from finops_lib.warehouse.ledger import file_sha256
from finops_lib.warehouse.loading import FileResult, ingest_file, settle
from finops_lib.warehouse.normalize import normalize
from finops_lib.warehouse.status import quality_flags, rejects_summary, skipped_files, sources

__all__ = [
    "FileResult",
    "discover",
    "ensure_tables",
    "export_focus",
    "file_sha256",
    "ingest",
    "ingest_file",
    "merge_cost_datasets",
    "normalize",
    "open_data",
    "quality_flags",
    "rejects_summary",
    "run_validator",
    "settle",
    "skipped_files",
    "sources",
    "summarize",
    "validator_failures",
]
