"""Kubernetes: render the kustomize overlays with the pushed image, validate them offline,
and apply / inspect / delete them on the cluster kubectl points at.

Imports neither the model nor the serving code: it deals in manifests and images only.
"""
