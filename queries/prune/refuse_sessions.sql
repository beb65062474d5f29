-- An ingest's session documents dated on a date whose raw sessions are pruned ($days): rejected,
-- reason pruned_day (that date keeps only its rollups, and a rollup rebuilt from part of its
-- sessions would change its count). The file_index of each, for the run's counts per file.
update incoming
set reject_reason = 'pruned_day'
where reject_reason is null
    and date in (select unnest($days::date[]))
returning file_index
