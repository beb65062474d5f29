-- The raw sessions hourly-data and users-by-time count: sessions and computed sessions with a
-- userId whose loginAt lies in [login_from, login_to], from the sessions partitions (files) around
-- that span; whatever their device, duration or role.
create or replace macro raw_sessions(files, login_from, login_to) as table
select
    userId,
    loginAt,
    closedAt
from read_parquet(files)
where type in ('session', 'computed-session')
    and userId is not null
    and loginAt between login_from and login_to
