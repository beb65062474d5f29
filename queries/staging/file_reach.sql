-- How far each input file's stored documents reach (reads `incoming`): the newest activity of its
-- sessions (the later of loginAt and lastActivityAt, UTC) and the latest day of its user_daily
-- rollups. pipelines/lake/freshness.py tells from these how far the lake's data is loaded.
select
    file_index,
    max(greatest(loginAt, lastActivityAt)) filter (where type <> 'user_daily') as newest_activity,
    max(date) filter (where type = 'user_daily') as newest_rollup_day
from incoming
where reject_reason is null
group by file_index
