"""The spend forecast page (``notebooks/30_spend_forecast.ipynb``).

``page``: ``load`` (the page's facts and checked parameters) and ``results`` (its ``results.json``);
``charts``: its charts and tables; ``widgets``: its interactive views.
"""
