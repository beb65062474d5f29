-- Stickiness (`engagement stickiness`): the range $first..$last cut into windows of $window days,
-- the last ending on $last (a start of the range shorter than a window is left out); per window, how
-- many users (non-anonymous, as weekly-data counts) were active on exactly 1, 2, ... $window of its
-- days: a row per window and number of days, zeros included; `partial` when the window begins
-- before the lake's first day $lake_first. Reads the view `user_daily` (pipelines/lake/snapshot.py)
-- of $first..$last.
--
-- Each user's days are aggregated once into 64-bit masks that hold whole windows (9 windows of 7
-- days, or 2 of 30, a mask); a window's active days are then the bit count of its slice.
with

shape as (
    select
        64 // $window as per_mask,
        ($last::date - $first::date + 1) // $window as windows
),

marks as materialized (
    select
        userId,
        k // (select per_mask from shape) as chunk,
        bit_or(1::ubigint << cast((k % (select per_mask from shape)) * $window + d % $window as ubigint)) as mask
    from (
        select userId, $last::date - date as d, ($last::date - date) // $window as k
        from user_daily
        where date between $last::date - cast((select windows from shape) * $window - 1 as integer) and $last::date
            and is_counted(role)
    )
    group by userId, chunk
),

per_window as (
    select
        m.chunk * (select per_mask from shape) + j.j as k,
        bit_count((m.mask >> cast(j.j * $window as ubigint)) & ((1::ubigint << $window::ubigint) - 1)) as days_active
    from marks as m
    cross join (select unnest(range(64 // $window)) as j) as j
),

histogram as (
    select
        k,
        days_active,
        count(*) as users
    from per_window
    where days_active > 0 and k < (select windows from shape)
    group by k, days_active
),

windows as (
    select
        k,
        $last::date - cast(k * $window + $window - 1 as integer) as window_start,
        $last::date - cast(k * $window as integer) as window_end
    from (select unnest(range((select windows from shape))) as k)
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
