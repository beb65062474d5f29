-- Last seen (`engagement last-seen`): every user the lake counts active (non-anonymous, as
-- weekly-data counts) on or before $as_of: the first and last such day, how many days (user_daily
-- holds one row per user and day: checks/one_row_per_user_day.sql), and the role of the last one;
-- with $inactive_days, only those whose last day is at least that many days before $as_of (not seen
-- for that long). Reads the view `user_daily` (pipelines/lake/snapshot.py) of every day up to $as_of.
select
    userId,
    min(date) as first_day,
    max(date) as last_day,
    count(*) as days_active,
    arg_max(role, date) as role
from user_daily
where date <= $as_of::date
    and is_counted(role)
group by userId
having $inactive_days is null or max(date) <= $as_of::date - $inactive_days
order by last_day desc, userId
