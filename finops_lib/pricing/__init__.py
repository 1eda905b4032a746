"""Token pricing you can audit: an effective-dated price catalog, exact estimates, re-pricing diffs.

The public surface of :mod:`finops_lib.pricing` (catalog, estimate, diff, LiteLLM import). The shipped
catalog is ``finops_lib/data/price_catalog.csv``; ``finops_lib/data/README.md`` gives its sources and each
provider's billing rules (long context, what counts as the prompt, cache writes, tiers).

Examples
--------
>>> import datetime as dt
>>> catalog = load_catalog()
>>> catalog.price("Anthropic", "claude-sonnet-4-5", "input_cache_write_1h", dt.date(2026, 6, 1))
Decimal('6')
>>> catalog.price("Anthropic", "claude-sonnet-4-5-20250929", "output", dt.date(2026, 6, 1), context_tier="long")
Decimal('22.5')
"""

from __future__ import annotations

from finops_lib.pricing.book import (
    Catalog,
    apply_discounts,
    catalog_for,
    load_catalog,
    read_discounts,
    sample_catalog,
)
from finops_lib.pricing.catalog import (
    CATALOG_COLUMNS,
    SAMPLE_OVERLAY,
    SHIPPED_ALIASES,
    SHIPPED_CATALOG,
    Discount,
    check_catalog,
    overlay,
    read_aliases,
    read_catalog_file,
    validate_catalog,
    write_catalog,
)
from finops_lib.pricing.diff import reprice, unpriced_summary
from finops_lib.pricing.estimate import (
    BUCKET_COST_COLUMNS,
    DETAIL_COLUMNS,
    estimate_requests,
    price_costs,
)
from finops_lib.pricing.litellm_import import LiteLLMImport, import_litellm

__all__ = [
    "BUCKET_COST_COLUMNS",
    "CATALOG_COLUMNS",
    "DETAIL_COLUMNS",
    "SAMPLE_OVERLAY",
    "SHIPPED_ALIASES",
    "SHIPPED_CATALOG",
    "Catalog",
    "Discount",
    "LiteLLMImport",
    "apply_discounts",
    "catalog_for",
    "check_catalog",
    "estimate_requests",
    "import_litellm",
    "load_catalog",
    "overlay",
    "price_costs",
    "read_aliases",
    "read_catalog_file",
    "read_discounts",
    "reprice",
    "sample_catalog",
    "unpriced_summary",
    "validate_catalog",
    "write_catalog",
]
