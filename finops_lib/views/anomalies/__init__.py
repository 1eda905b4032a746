"""The anomaly review page (``notebooks/40_anomaly_review.ipynb``).

``page``: ``load`` (the page's facts and checked parameters) and ``results`` (its ``results.json``);
``charts``: its charts and tables; ``widgets``: its interactive views.
"""
