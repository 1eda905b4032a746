"""The layer of a feature's stack a cost row is in, when no feature map entry says it.

Guessed from what the row is, in this order (first that holds), on the ``costs`` columns every reader fills:

1. the provider is a vector database (:data:`VECTOR_DATABASES`): ``retrieval``;
2. the provider is an observability or tracing service (:data:`OBSERVABILITY`): ``observability``;
3. the row is priced per seat or user (``PricingUnit``/``ConsumedUnit`` of :data:`SEAT_UNITS`): ``seats``;
4. tokens (``x_TokenType`` other than ``non_token``), or a row naming a model: ``embeddings`` when the model is an
   embedding model (its id contains ``embed``), else ``model_inference``;
5. FOCUS ``ServiceCategory``: ``AI and Machine Learning`` without a model (endpoints, notebooks, GPUs) and
   ``Compute`` -> ``compute``; ``Storage`` and ``Databases`` -> ``storage``; ``Management and Governance`` ->
   ``observability``;
6. anything else: ``other``.

A feature map's ``layers`` section (and each entry's ``layer``) overrides the guess; the guess never reads a
sample file or a default of the sample.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["OBSERVABILITY", "SEAT_UNITS", "VECTOR_DATABASES", "guess_layer"]

#: Providers whose bills are a vector database (lower case).
VECTOR_DATABASES = ("pinecone", "weaviate", "qdrant", "zilliz", "milvus", "chroma", "turbopuffer", "vespa")
#: Providers whose bills are observability, tracing or evaluation (lower case).
OBSERVABILITY = ("langfuse", "helicone", "langsmith", "datadog", "arize", "weights & biases", "new relic",
                 "grafana labs", "honeycomb", "braintrust")  # fmt: skip
#: Pricing or consumed units that mean a seat (lower case).
SEAT_UNITS = ("seat", "seats", "user", "users", "license", "licenses", "licence", "licences")
_CATEGORIES = {"AI and Machine Learning": "compute", "Compute": "compute", "Storage": "storage",
               "Databases": "storage", "Management and Governance": "observability"}  # fmt: skip


def guess_layer(rows: ir.Table) -> ir.StringValue:
    """Return the guessed layer of each ``costs`` row (see the module), as an engine expression."""
    provider = rows.ProviderName.lower().strip()
    model = rows.x_Model.lower().fill_null("")
    units = [rows[c].lower().strip() for c in ("PricingUnit", "ConsumedUnit") if c in rows.columns]
    per_seat = ibis.literal(False)
    for unit in units:
        per_seat = per_seat | unit.isin(list(SEAT_UNITS)).fill_null(False)
    tokens = (rows.x_TokenType.notnull() & (rows.x_TokenType != "non_token")).fill_null(False) | (model != "")
    category = rows.ServiceCategory.fill_null("")
    return ibis.cases(
        (provider.isin(list(VECTOR_DATABASES)).fill_null(False), "retrieval"),
        (provider.isin(list(OBSERVABILITY)).fill_null(False), "observability"),
        (per_seat, "seats"),
        (tokens & model.contains("embed"), "embeddings"),
        (tokens, "model_inference"),
        *((category == name, layer) for name, layer in _CATEGORIES.items()),
        else_="other",
    )
