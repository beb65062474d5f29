"""The SQL (DuckDB), one query a file; shipped inside the wheel as pipelines.queries and loaded by name (pipelines/sql.py)."""
