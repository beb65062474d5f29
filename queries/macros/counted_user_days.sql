-- Whether an active user-day counts: its role is not anonymous (a missing role counts).
create or replace macro is_counted(role) as role is distinct from 'anonymous';

-- The user-days weekly-data and active-users count: the active user-days of dates
-- first..last, from those dates' user_daily partitions (files), whose role is not anonymous (a
-- missing role counts).
create or replace macro counted_user_days(files, first, last) as table
select
    date,
    userId,
    role
from read_parquet(files)
where date between first and last
    and is_counted(role)
