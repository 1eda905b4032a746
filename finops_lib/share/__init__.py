"""What the workbench writes for other people to open: spreadsheet-safe CSV.

:func:`neutralise` and :func:`write_csv` (:mod:`finops_lib.share.spreadsheet`) keep a text cell such as
``=HYPERLINK("http://evil","x")`` (a team name, a tag, a model alias from billing data anyone can write) from being
run as a formula by Excel, LibreOffice or Google Sheets, while numbers stay numbers.
Every output file is written atomically (:mod:`finops_lib.share.files`: :func:`atomic_write`, :func:`atomic_open`,
:func:`atomic_path`): a temporary name in the same folder, renamed over the target once complete.
"""

from finops_lib.share.files import atomic_open, atomic_path, atomic_write
from finops_lib.share.spreadsheet import FORMULA_STARTS, neutralise, neutralise_sql, write_csv

__all__ = ["FORMULA_STARTS", "atomic_open", "atomic_path", "atomic_write", "neutralise", "neutralise_sql",
           "write_csv"]
