"""Pinecone hosted inference meters (the SKU text of its FOCUS cost-usage export's inference rows).

Pinecone bills its hosted models by the model: embedding models per token (``multilingual-e5-large``,
``llama-text-embed-v2``, ``pinecone-sparse-english-v0``), rerankers per request (``pinecone-rerank-v0``,
``bge-reranker-v2-m3``, ``cohere-rerank-3.5``) (docs.pinecone.io, "Pricing" and "Monitor usage and costs": "tokens
per embedding model" is one of the usage dashboard's SKUs).

Shape: the model id with words about what is billed, in any order: ``Embedding tokens: multilingual-e5-large``,
``multilingual-e5-large Tokens``, ``Rerank requests - pinecone-rerank-v0``, ``inference-embed-llama-text-embed-v2``.
UNCONFIRMED: which column of the export names the model (the FOCUS reader offers ``SkuMeter``, else
``ChargeDescription``, else ``SkuId``, the first naming a hosted model) and its exact wording; hence a parser of
words rather than of one grammar.

Quirks handled:

* Embedding is one direction: every token is an input token (``input_uncached``); there is no cache and no output.
* A text that speaks of tokens is a token meter; otherwise a reranker's text is a request meter (the model, with
  ``non_token``), and an embedding model's is still its tokens.
* Model ids go through :func:`~finops_lib.models.canonical_model`, which drops the ``-v2``/``-v0`` version suffix
  as it drops Bedrock's (``llama-text-embed-v2`` -> ``llama-text-embed``); the raw text keeps it.
* Strict: a word other than the model and the words of :data:`WORDS` leaves the text unparsed.

Examples
--------
>>> m = parse_pinecone("Embedding tokens: multilingual-e5-large")
>>> m.model, m.token_type, m.service_tier
('multilingual-e5-large', 'input_uncached', 'standard')
>>> parse_pinecone("Rerank requests - pinecone-rerank-v0").token_type
'non_token'
>>> parse_pinecone("Read units") is None
True
"""

from __future__ import annotations

import re

from finops_lib.meters._core import Meter, register_meter
from finops_lib.models import canonical_model

#: Pinecone's hosted embedding models (billed per token), as its API names them.
EMBEDDING_MODELS = ("multilingual-e5-large", "llama-text-embed-v2", "pinecone-sparse-english-v0")
#: Pinecone's hosted reranking models (billed per request).
RERANK_MODELS = ("pinecone-rerank-v0", "bge-reranker-v2-m3", "cohere-rerank-3.5")
HOSTED_MODELS = (*EMBEDDING_MODELS, *RERANK_MODELS)
#: Words a meter may hold beside the model.
WORDS = frozenset(("embedding", "embeddings", "embed", "tokens", "token", "rerank", "reranking", "requests", "request",
                   "inference", "hosted", "model", "usage", "input", "pinecone", "units", "unit", "sparse", "dense",
                   "million", "thousand", "per", "of", "m", "k"))  # fmt: skip
_MODEL = re.compile("|".join(re.escape(m) for m in sorted(HOSTED_MODELS, key=len, reverse=True)))


@register_meter("pinecone")
def parse_pinecone(raw: str) -> Meter | None:
    """Parse a hosted-inference meter text; None when it names no hosted model or holds other words."""
    text = raw.lower()
    found = _MODEL.search(text)
    if found is None or len(_MODEL.findall(text)) != 1:
        return None
    rest = re.findall(r"[a-z]+", text[: found.start()] + " " + text[found.end() :])
    if not set(rest) <= WORDS:
        return None
    tokens = bool({"tokens", "token"} & set(rest))
    name = found.group(0)
    token_type = "input_uncached" if tokens or name in EMBEDDING_MODELS else "non_token"
    return Meter(
        raw=raw,
        model=canonical_model(name),
        token_type=token_type,
        service_tier="standard",
        context_tier="standard",
        thinking=False,
        parsed=True,
    )
