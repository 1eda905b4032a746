"""The experiment comparison page (``notebooks/20_experiment_comparison.ipynb``)."""
