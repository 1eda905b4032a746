"""The anomaly review page (``notebooks/40_anomaly_review.ipynb``)."""
