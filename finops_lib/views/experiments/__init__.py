"""The experiment comparison page (``notebooks/20_experiment_comparison.ipynb``).

``page``: ``load`` (the page's facts and checked parameters) and ``results`` (its ``results.json``);
``charts``: its charts and tables; ``widgets``: its interactive views.
"""
