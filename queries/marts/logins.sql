-- What hourly-data and users-by-time count of the sessions partitions $files: each session and
-- computed session with a userId and a loginAt, whatever its device, duration or role, as
-- (date, userId, loginAt, closedHour: the UTC hour of closedAt, null when not closed). Sessions that
-- agree on all four are one row: both endpoints count distinct users. `engagement prune` keeps these
-- rows of each date whose raw sessions it drops (the `logins` table); the endpoints read these rows
-- of the dates not pruned straight from the sessions, so both are counted by the same rule.
select distinct
    date,
    userId,
    loginAt,
    hour(closedAt)::tinyint as closedHour
from read_parquet($files)
where type in ('session', 'computed-session')
    and userId is not null
    and loginAt is not null
