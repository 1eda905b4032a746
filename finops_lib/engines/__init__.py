"""Engine-specific pieces of the analytic layer, chosen from the connection (``con.name``).

Public surface: :func:`spark.open_session` / :func:`spark.parse_url` (the Spark session builder and its URLs);
:func:`grouped.spark_session` (the Spark session behind a connection, None for other engines) and
:func:`grouped.map_groups` (a pandas function per group of rows on a Spark session's workers: many forecast fits).
:mod:`workers` reads a big dump on a local session's workers during an ingest (Parquet with Spark's own reader, a
plain CSV or JSON-lines file in ranges of whole lines).
Nothing else should test ``con.name``.
"""

from finops_lib.engines.grouped import map_groups, spark_session
from finops_lib.engines.spark import SPARK_SCHEMES, is_spark_url, open_session, parse_url

__all__ = ["SPARK_SCHEMES", "is_spark_url", "map_groups", "open_session", "parse_url", "spark_session"]
