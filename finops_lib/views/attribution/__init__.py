"""The cost attribution page (``notebooks/10_cost_attribution.ipynb``)."""
