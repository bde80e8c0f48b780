"""`make monitor`: the request log compared with the bundle's reference statistics."""
