"""The feature cost page (``notebooks/60_feature_cost.ipynb``).

``page``: ``load`` (facts, feature map, catalog and checked parameters), the answer and ``results``;
``sections``: what each cell shows; ``charts``: its charts; ``widgets``: its interactive view.
"""
