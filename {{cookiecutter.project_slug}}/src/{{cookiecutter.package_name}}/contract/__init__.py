"""The contract: what training writes and everything after it reads, in one place.

Training (model/) and serving (serve/), the monitor and the image never import each
other; they agree through this package alone:

    bundle.py          the model bundle's files and their typed reading (Bundle.load)
    transformers.py    the pipeline's own steps (a bundle may hold exactly these types)
    xgboost_model.py   XGBoost as a pipeline step (model=xgboost only)
    tree_checks.py     a model file's trees checked before anything predicts
    values.py          how a value is read: categories, numbers, dates, missing markers
    onnx_inputs.py     records -> the ONNX graph's inputs (export check and serving)
    drift_rules.py     reference statistics and PSI (serving's /metrics and make monitor)

Change one of these and both sides change with it: that is the point of keeping them here.
"""
