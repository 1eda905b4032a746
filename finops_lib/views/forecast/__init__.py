"""The spend forecast page (``notebooks/30_spend_forecast.ipynb``)."""
