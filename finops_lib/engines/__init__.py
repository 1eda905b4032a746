"""Engine-specific pieces of the analytic layer, chosen from the connection (``con.name``).

Public surface: :func:`spark.open_session` / :func:`spark.parse_url` (the Spark session builder and its URLs).
Per-engine JSON reads and bulk loads will live here too (issue 19); nothing else should test ``con.name``.
"""

from finops_lib.engines.spark import SPARK_SCHEMES, is_spark_url, open_session, parse_url

__all__ = ["SPARK_SCHEMES", "is_spark_url", "open_session", "parse_url"]
