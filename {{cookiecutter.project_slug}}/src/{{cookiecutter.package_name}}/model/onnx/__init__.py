"""The ONNX copy of the pipeline: faster serving, never a different answer. Skip on a first reading.

Training calls one function from here, `export.to_onnx_bundle`; the rest is how:

    export.py       convert the fitted pipeline and check the copy agrees on the test rows
                    (tests/model/test_pipeline.py); no agreement, no ONNX file: serving
                    then uses scikit-learn, slower and never wrong
    converters.py   ONNX converters for this project's own pipeline steps, which skl2onnx
                    does not know (tests/contract/test_onnx_inputs.py)

What it buys: one row's preprocessing in ~0.1 ms in onnxruntime against ~7 ms in pandas and
scikit-learn (bench/bench_serve.py).
"""
