"""``finops watch``: pull, ingest, detect on hourly series and budget burn, and tell people, once per incident.

:func:`watch_once` is one cycle (for cron, systemd timers, CI schedulers); :func:`watch_loop` repeats it.
"""

from finops_lib.watch.config import WatchConfig, load_watch_config
from finops_lib.watch.cycle import CycleReport, watch_loop, watch_once
from finops_lib.watch.incidents import Incident, WatchState, find_incidents, plan_messages

__all__ = ["CycleReport", "Incident", "WatchConfig", "WatchState", "find_incidents", "load_watch_config",
           "plan_messages", "watch_loop", "watch_once"]
