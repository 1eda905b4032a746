"""Live pulls from the vendors' own APIs: the admin usage and cost endpoints, and the LiteLLM gateway's database.

``finops pull`` and ``finops watch`` call :func:`pull`; pages land unchanged under ``<data>/landing/`` and are
ingested by the ordinary readers, so every number still traces to a file and a line.
"""

from finops_lib.live.client import ApiClient, MalformedPage, PullError, RetryPolicy
from finops_lib.live.endpoints import ENDPOINTS, VENDORS, Endpoint, endpoints_of
from finops_lib.live.gateway import pull_litellm
from finops_lib.live.landing import LANDING, Landing
from finops_lib.live.pull import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK, PullOptions, PullReport, pull
from finops_lib.live.state import EndpointState, PullState

__all__ = ["ENDPOINTS", "EXIT_FAILED", "EXIT_INCOMPLETE", "EXIT_OK", "LANDING", "VENDORS", "ApiClient", "Endpoint",
           "EndpointState", "Landing", "MalformedPage", "PullError", "PullOptions", "PullReport", "PullState",
           "RetryPolicy", "endpoints_of", "pull", "pull_litellm"]
