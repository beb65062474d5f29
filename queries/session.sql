-- Run on every new connection (pipelines/sql.py: connect), before the macros: days and
-- timestamps are computed in UTC unless a query names a zone, and nothing draws progress bars.
set TimeZone = 'UTC';
set enable_progress_bar = false;
