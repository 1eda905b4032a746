"""The reconciliation page (``notebooks/50_reconciliation.ipynb``).

``page``: ``load`` (the page's facts and checked parameters) and ``results`` (its ``results.json``);
``charts``: its charts and tables; ``widgets``: its interactive views.
"""
