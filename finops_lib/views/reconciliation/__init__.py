"""The reconciliation page (``notebooks/50_reconciliation.ipynb``)."""
