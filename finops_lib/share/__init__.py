"""What the workbench writes for other people to open: spreadsheet-safe CSV.

:func:`neutralise` and :func:`write_csv` (:mod:`finops_lib.share.spreadsheet`) keep a text cell such as
``=HYPERLINK("http://evil","x")`` (a team name, a tag, a model alias from billing data anyone can write) from being
run as a formula by Excel, LibreOffice or Google Sheets, while numbers stay numbers.
"""

from finops_lib.share.spreadsheet import FORMULA_STARTS, neutralise, neutralise_sql, write_csv

__all__ = ["FORMULA_STARTS", "neutralise", "neutralise_sql", "write_csv"]
