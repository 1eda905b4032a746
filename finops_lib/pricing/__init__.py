"""Token pricing, split by concern; :mod:`finops_lib.prices` is the public surface.

``catalog``
    The effective-dated price catalog as data: reading, checking, layering user files, discounts, aliases.
``estimate``
    Pricing over ibis tables: requests, estimated ``costs`` rows, unpriced listing, re-pricing diff.
``litellm_import``
    Catalog rows from LiteLLM's ``model_prices_and_context_window.json``.
"""
