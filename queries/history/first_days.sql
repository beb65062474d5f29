-- Each user's first day the lake counts them active (non-anonymous, as weekly-data counts): the
-- table the week's "who stays" line reads (pipelines/metrics/cohorts.py keeps it per snapshot).
-- Reads the view `user_daily` (pipelines/lake/snapshot.py) of every day.
select
    userId,
    min(date) as first_day
from user_daily
where is_counted(role)
group by userId
