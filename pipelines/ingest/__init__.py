"""Ingest: files into the lake (load, judge, merge, rollup), one run at a time."""
