-- Distinct counted users, and counted user-days, of the 8-day window ending on each date of $ends
-- (weekly-data's window), every end a row (0 without users). Reads the view `user_daily`
-- (pipelines/lake/snapshot.py).
with

ends as (
    select unnest($ends::date[]) as end_date
),

final as (
    select
        e.end_date,
        count(distinct u.userId) as users,
        count(u.userId) as user_days
    from ends as e
    left join user_daily as u
        on u.date between e.end_date - 7 and e.end_date
        and is_counted(u.role)
    group by e.end_date
)

select * from final
order by end_date
