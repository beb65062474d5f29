-- Who is new and who is gone between two spans of days: the users counted (as weekly-data counts
-- them) in $b_first..$b_last and not in $a_first..$a_last are `new`, the reverse `gone`. Reads the
-- view `user_daily` (pipelines/lake/snapshot.py) of both spans.
with

a as (
    select distinct userId
    from user_daily
    where date between $a_first::date and $a_last::date
        and is_counted(role)
),

b as (
    select distinct userId
    from user_daily
    where date between $b_first::date and $b_last::date
        and is_counted(role)
),

final as (
    select userId, 'new' as change from b where userId not in (select userId from a)
    union all
    select userId, 'gone' as change from a where userId not in (select userId from b)
)

select * from final
order by change desc, userId
