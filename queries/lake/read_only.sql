-- After the snapshot's views exist (pipelines/metrics/lakesql.py): no file but those named by
-- `set allowed_paths` before this may be read or written, and no setting may change.
set enable_external_access = false;
set lock_configuration = true;
