-- Each user's active periods up to $last ($unit: day, week or month; non-anonymous user-days, as
-- weekly-data counts them) as 64-bit masks: a row per user and block of 64 periods (chunk), bit b
-- of `mask` set when the user is active in period chunk * 64 + b (macros/period_index.sql numbers
-- the periods). Aggregating the user-days once into these, a few rows a user, is what keeps
-- retention and lifecycle (history/retention.sql, history/lifecycle.sql, which read them as
-- `marks`) fast on years of history. Reads the view `user_daily` (pipelines/lake/snapshot.py).
select
    userId,
    idx // 64 as chunk,
    bit_or(1::ubigint << cast(idx % 64 as ubigint)) as mask
from (
    select userId, period_index($unit, date) as idx
    from user_daily
    where date <= $last::date
        and is_counted(role)
)
group by userId, chunk
