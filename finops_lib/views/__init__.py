"""What the notebooks show: one package per page, plus the shared theme, waterfall and offline renderer.

Each page package holds that page's charts, tables, widgets, parameter checks and ``results.json`` builder.

Only the notebooks and :mod:`finops_lib.report` import from here.
"""
