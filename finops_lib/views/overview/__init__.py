"""The data overview page (``notebooks/00_data_overview.ipynb``).

``page``: ``load`` (the page's facts and checked parameters) and ``results`` (its ``results.json``);
``charts``: its charts and tables; ``widgets``: its interactive views.
"""
