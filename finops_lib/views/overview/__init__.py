"""The data overview page (``notebooks/00_data_overview.ipynb``)."""
