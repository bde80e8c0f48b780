"""`make collect`: gather a data set of your own from a web API, a CSV/Excel link or an HTML table.

fetch.py is the polite HTTP client (robots.txt, delay, retries, cache, caps), kinds.py turns
a response into records and finds the next page, snapshots.py writes the snapshot, the
combined file and the manifest, run.py drives one source from first page to manifest.
"""
