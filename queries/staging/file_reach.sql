-- How far each input file's stored documents reach (reads `incoming`): the newest activity of its
-- sessions (the later of loginAt and lastActivityAt, UTC) and the latest day of its user_daily
-- rollups. pipelines/lake/freshness.py tells from these how far the lake's data is loaded. And the
-- first and last day (in the lake's zone) of its stored documents: lineage (publish/lineage.py)
-- names, for a week, the files whose documents reach its days.
select
    file_index,
    max(greatest(loginAt, lastActivityAt)) filter (where type <> 'user_daily') as newest_activity,
    max(date) filter (where type = 'user_daily') as newest_rollup_day,
    min(date) as first_day,
    max(date) as last_day
from incoming
where reject_reason is null
group by file_index
