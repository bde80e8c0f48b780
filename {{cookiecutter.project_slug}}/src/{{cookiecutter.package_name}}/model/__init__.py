"""Model: the pipeline, its training, evaluation, tracking and export."""
