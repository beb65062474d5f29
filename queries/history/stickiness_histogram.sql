-- Stickiness (`engagement stickiness`): the range $first..$last cut into windows of $window days,
-- the last ending on $last (a start of the range shorter than a window is left out); per window, how
-- many users (non-anonymous, as weekly-data counts) were active on exactly 1, 2, ... $window of its
-- days: a row per window and number of days, zeros included; `partial` when the window begins
-- before the lake's first day $lake_first. Reads the view `user_daily` (pipelines/lake/snapshot.py)
-- of $first..$last.
with

windows as (
    select
        k,
        $last::date - cast(k * $window + $window - 1 as integer) as window_start,
        $last::date - cast(k * $window as integer) as window_end
    from (select unnest(generate_series(0, ($last::date - $first::date + 1) // $window - 1)) as k)
),

per_user as (
    select
        ($last::date - date) // $window as k,
        userId,
        count(distinct date) as days_active
    from user_daily
    where date between $first::date and $last::date
        and is_counted(role)
    group by all
),

histogram as (
    select
        k,
        days_active,
        count(*) as users
    from per_user
    group by all
)

select
    w.window_start,
    w.window_end,
    d.days_active,
    coalesce(h.users, 0) as users,
    w.window_start < $lake_first::date as partial
from windows as w
cross join (select unnest(generate_series(1, $window)) as days_active) as d
left join histogram as h on h.k = w.k and h.days_active = d.days_active
order by w.window_start, d.days_active
