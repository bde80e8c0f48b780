"""Data: make or load a data set, check it, describe it. Knows nothing of models."""
