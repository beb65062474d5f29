-- The only files the query after it may read (pipelines/metrics/lakesql.py): the snapshot's.
set allowed_paths = $paths
