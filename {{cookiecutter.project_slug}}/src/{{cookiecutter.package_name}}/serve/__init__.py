"""Serving: a FastAPI app around the exported model bundle. Imports nothing from training."""
