"""The layer of a feature's stack a cost row is in, when no feature map entry says it.

Guessed from what the row is, in this order (first that holds), on the ``costs`` columns every reader fills:

1. the provider is a vector database (:data:`VECTOR_DATABASES`), or the service a search or vector search service
   of a cloud (:data:`SEARCH_SERVICES`: OpenSearch, Azure AI Search, Vertex AI Vector Search, ...): ``retrieval``;
2. the provider is an observability or tracing service (:data:`OBSERVABILITY`): ``observability``;
3. the row is priced per seat or user (``PricingUnit``/``ConsumedUnit`` of :data:`SEAT_UNITS`): ``seats``;
4. tokens (``x_TokenType`` other than ``non_token``), or a row naming a model: ``embeddings`` when the model is an
   embedding model (its id contains ``embed``), else ``model_inference``; provisioned model capacity (``x_ServiceTier``
   ``provisioned``: Azure PTU, Bedrock provisioned throughput) is ``model_inference`` too;
5. FOCUS ``ServiceCategory``: ``AI and Machine Learning`` without a model (endpoints, notebooks, GPUs) and
   ``Compute`` -> ``compute``; ``Storage`` and ``Databases`` -> ``storage``; ``Management and Governance`` ->
   ``observability``;
6. anything else: ``other``.

Providers are matched by name, in any case, alone or followed by more words (``Pinecone``, ``Pinecone Systems,
Inc.``, ``Datadog, Inc.``): a FOCUS ``ServiceProviderName`` is the provider's own spelling (Pinecone's cost-usage
export writes ``Pinecone``, UNCONFIRMED; its legal name would match too).

A feature map's ``layers`` section (and each entry's ``layer``) overrides the guess; the guess never reads a
sample file or a default of the sample.
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir

__all__ = ["OBSERVABILITY", "SEARCH_SERVICES", "SEAT_UNITS", "VECTOR_DATABASES", "guess_layer"]

#: Providers whose bills are a vector database (lower case).
VECTOR_DATABASES = ("pinecone", "weaviate", "qdrant", "zilliz", "milvus", "chroma", "turbopuffer", "vespa")
#: Providers whose bills are observability, tracing or evaluation (lower case).
OBSERVABILITY = ("langfuse", "helicone", "langsmith", "datadog", "arize", "weights & biases", "new relic",
                 "grafana labs", "honeycomb", "braintrust")  # fmt: skip
#: Pricing or consumed units that mean a seat (lower case); GitHub's usage report bills a seat by the day in
#: ``user-months`` (``sources/mappings/github_usage.yaml``).
SEAT_UNITS = ("seat", "seats", "user", "users", "license", "licenses", "licence", "licences", "user-month",
              "user-months", "seat-month", "seat-months")  # fmt: skip
#: Service names (lower case, contained) of the clouds' search and vector search services.
SEARCH_SERVICES = ("opensearch", "elasticsearch", "ai search", "cognitive search", "vector search", "kendra")
_CATEGORIES = {"AI and Machine Learning": "compute", "Compute": "compute", "Storage": "storage",
               "Databases": "storage", "Management and Governance": "observability"}  # fmt: skip


def _named(provider: ir.StringValue, names: tuple[str, ...]) -> ir.BooleanValue:
    """Return whether ``provider`` (lower case) is one of ``names``, alone or followed by other words."""
    escaped = (re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", name) for name in names)
    return provider.re_search(f"^({'|'.join(escaped)})(\\W|$)").fill_null(False)


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
    search = provisioned = ibis.literal(False)
    if "ServiceName" in rows.columns:
        service = rows.ServiceName.lower().fill_null("")
        for name in SEARCH_SERVICES:
            search = search | service.contains(name)
    if "x_ServiceTier" in rows.columns:
        provisioned = (rows.x_ServiceTier == "provisioned").fill_null(False)
    return ibis.cases(
        (_named(provider, VECTOR_DATABASES) | search, "retrieval"),
        (_named(provider, OBSERVABILITY), "observability"),
        (per_seat, "seats"),
        (tokens & model.contains("embed"), "embeddings"),
        (tokens | provisioned, "model_inference"),
        *((category == name, layer) for name, layer in _CATEGORIES.items()),
        else_="other",
    )
