"""``finops chargeback``: the finance CSV adds up to the invoiced money, per month and currency."""

import csv
import shutil
from collections import defaultdict
from decimal import Decimal

from finops_lib import engine
from finops_lib.cli.main import main
from finops_lib.warehouse.ingestion import ingest


def test_chargeback_csv_adds_up_to_the_invoices(tmp_path, data_dir, capsys):
    folder = tmp_path / "exports"
    folder.mkdir()
    for name in ("openai_costs.json", "aws_cur2.csv", "azure_cost_details.csv"):
        shutil.copy(data_dir / name, folder / name)
    wh, out = tmp_path / "wh.duckdb", tmp_path / "chargeback.csv"
    assert main(["chargeback", "--data", str(folder), "--out", str(out), "--warehouse", str(wh),
                 "--rules", "none"]) == 0
    assert "chargeback written to" in capsys.readouterr().out
    con = engine.connect(warehouse=wh)
    ingest([folder], con=con)  # a no-op: already ingested by the command
    costs = con.table("costs")
    invoiced = costs.filter(costs.x_CostBasis == "invoiced")
    expected = defaultdict(Decimal)
    for r in invoiced.select("ChargePeriodStart", "BillingCurrency", "BilledCost").to_pyarrow().to_pylist():
        expected[(r["ChargePeriodStart"].strftime("%Y-%m"), r["BillingCurrency"])] += r["BilledCost"]
    con.disconnect()
    got = defaultdict(Decimal)
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        assert Decimal(row["direct"]) + Decimal(row["shared"]) + Decimal(row["unallocated"]) == Decimal(row["total"])
        got[(row["month"], row["currency"])] += Decimal(row["total"])
    assert len(expected) >= 2
    assert dict(got) == {k: v.quantize(Decimal("0.01")) for k, v in expected.items()}
