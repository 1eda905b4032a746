from decimal import Decimal

import pytest

from finops_lib import engine
from finops_lib.errors import ParameterError
from finops_lib.facts.gateway import daily_reported_cost
from finops_lib.warehouse.ingestion import ingest


def test_reported_cost_by_team_from_the_small_log(data_dir, tmp_path):
    con = engine.connect(warehouse=tmp_path / "wh")
    ingest([data_dir / "litellm_spend_logs_small.csv"], con=con)
    out = daily_reported_cost(con.table("requests"), by="team")
    got = {(str(r.day.date()), r.team): round(r.cost, 10) for r in out.itertuples()}
    # Hand-worked from the fixture: r1 (support, 0.00123) and r2 (no team, 0.05) on 05-01;
    # r3 (search, 0.01) and r6 (no team, 0.0) on 05-02. Rejected lines are in no total.
    assert got == {("2026-05-01", "(unattributed)"): 0.05, ("2026-05-01", "support"): 0.00123,
                   ("2026-05-02", "(unattributed)"): 0.0, ("2026-05-02", "search"): 0.01}
    total = con.table("requests").x_ReportedCost.sum().to_pyarrow().as_py()
    assert total == Decimal("0.06123") and abs(out.cost.sum() - 0.06123) < 1e-12
    window = daily_reported_cost(con.table("requests"), by="model", start_date="2026-05-02")
    assert set(window.day.dt.strftime("%Y-%m-%d")) == {"2026-05-02"}
    with pytest.raises(ParameterError, match="unknown dimension"):
        daily_reported_cost(con.table("requests"), by="colour")
