"""Deploy: ship the image to a machine and switch to it once it answers /readyz.

One module per target (target_<name>.py); imports neither the model nor the
serving code: it deals only in images.
"""
