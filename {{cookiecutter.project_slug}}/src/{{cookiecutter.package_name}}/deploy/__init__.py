"""Deploy: ship the image to a VM over SSH, or provision one on AWS EC2 first.

Imports neither the model nor the serving code: it deals only in images.
"""
