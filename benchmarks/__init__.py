"""Timings of the service on large workbooks; run them with `make bench`."""
