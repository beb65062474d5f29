-- What the lake holds per day (reads the view `sessions` of pipelines/lake/snapshot.py): stored
-- documents, of which raw sessions and Rocket.Chat's own user_daily rollups.
select
    date,
    count(*) as documents,
    count(*) filter (where type <> 'user_daily') as sessions,
    count(*) filter (where type = 'user_daily') as rollups
from sessions
group by date
order by date
