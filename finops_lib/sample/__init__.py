"""Sample-data generator: a fictional organisation's AI spend, each source in its vendor's native format.

The public entry point is :func:`generate`; ``data/sample/`` is its output with default options.
"""

from finops_lib.sample.generate import generate

__all__ = ["generate"]
