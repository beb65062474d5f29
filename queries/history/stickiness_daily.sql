-- Stickiness per day (`engagement stickiness --show daily`) of $first..$last: dau (weekly-data's
-- number for the day), dau_avg_30 (the average DAU over the days of the 30 ending that day that the
-- lake holds, from its first day $lake_first on; a held day without users counts 0), mau (the
-- distinct users of those 30 days), dau_mau = dau_avg_30 / mau, and retained_30: Synapse's 30-day
-- retained users, those seen on two days more than 30 days apart within the 60 days ending that
-- day; `partial` when those 60 days reach before $lake_first (mau and retained_30 may then count
-- fewer than the server had). Users are non-anonymous, as weekly-data counts them. Reads the view
-- `user_daily` (pipelines/lake/snapshot.py) of $first - 59 .. $last.
--
-- Bit-parallel, so that no step sorts the user-days: each user's days become 64-bit masks, one per
-- block of 64 days (bit b of block c: day c * 64 + b, counted from 0001-01-01); each block is then
-- read with the block before it as one 128-bit number x (bits 64..127: the block's own days), and
-- for every day of the block at once:
--   active    x itself;
--   mau       x smeared over 30 days (x | x << 1 | ... | x << 29, by doubling);
--   retained  some pair of active days a < b with b - a > 30 within the 60 days: for each distance
--             j = 31 .. 59 to the older day, x << j (an active day j days before) and s_j (an active
--             day in the j - 30 days ending this one), kept in r; the 28 steps after the first are
--             the same step, written out (levels 32 .. 59).
-- The users of each day are then the sums of one bit over the blocks (192 sums per block).
-- history/stickiness_daily.sql's results are checked against a plain computation by the tests.
with

marks as materialized (
    select
        userId,
        d // 64 as c,
        bit_or(1::ubigint << cast(d % 64 as ubigint)) as p
    from (
        select userId, date - date '0001-01-01' as d
        from user_daily
        where date between $first::date - 59 and $last::date
            and is_counted(role)
    )
    group by userId, c
),

-- every block with a user's days, and the block after it (a span reaches 59 days past a day), as
-- one 128-bit number x: bits 0..63 the block before, 64..127 the block's own
windows as (
    select
        c,
        bit_or(x) as x
    from (
        select userId, c, p::uhugeint << 64::uhugeint as x from marks
        union all
        select userId, c + 1, p::uhugeint from marks
    )
    group by userId, c
),

retained as (
    select c, x, s | shl128(x, 28) as s, r | (shl128(x, 59) & (s | shl128(x, 28))) as r
    from (select c, x, s | shl128(x, 27) as s, r | (shl128(x, 58) & (s | shl128(x, 27))) as r
    from (select c, x, s | shl128(x, 26) as s, r | (shl128(x, 57) & (s | shl128(x, 26))) as r
    from (select c, x, s | shl128(x, 25) as s, r | (shl128(x, 56) & (s | shl128(x, 25))) as r
    from (select c, x, s | shl128(x, 24) as s, r | (shl128(x, 55) & (s | shl128(x, 24))) as r
    from (select c, x, s | shl128(x, 23) as s, r | (shl128(x, 54) & (s | shl128(x, 23))) as r
    from (select c, x, s | shl128(x, 22) as s, r | (shl128(x, 53) & (s | shl128(x, 22))) as r
    from (select c, x, s | shl128(x, 21) as s, r | (shl128(x, 52) & (s | shl128(x, 21))) as r
    from (select c, x, s | shl128(x, 20) as s, r | (shl128(x, 51) & (s | shl128(x, 20))) as r
    from (select c, x, s | shl128(x, 19) as s, r | (shl128(x, 50) & (s | shl128(x, 19))) as r
    from (select c, x, s | shl128(x, 18) as s, r | (shl128(x, 49) & (s | shl128(x, 18))) as r
    from (select c, x, s | shl128(x, 17) as s, r | (shl128(x, 48) & (s | shl128(x, 17))) as r
    from (select c, x, s | shl128(x, 16) as s, r | (shl128(x, 47) & (s | shl128(x, 16))) as r
    from (select c, x, s | shl128(x, 15) as s, r | (shl128(x, 46) & (s | shl128(x, 15))) as r
    from (select c, x, s | shl128(x, 14) as s, r | (shl128(x, 45) & (s | shl128(x, 14))) as r
    from (select c, x, s | shl128(x, 13) as s, r | (shl128(x, 44) & (s | shl128(x, 13))) as r
    from (select c, x, s | shl128(x, 12) as s, r | (shl128(x, 43) & (s | shl128(x, 12))) as r
    from (select c, x, s | shl128(x, 11) as s, r | (shl128(x, 42) & (s | shl128(x, 11))) as r
    from (select c, x, s | shl128(x, 10) as s, r | (shl128(x, 41) & (s | shl128(x, 10))) as r
    from (select c, x, s | shl128(x, 9) as s, r | (shl128(x, 40) & (s | shl128(x, 9))) as r
    from (select c, x, s | shl128(x, 8) as s, r | (shl128(x, 39) & (s | shl128(x, 8))) as r
    from (select c, x, s | shl128(x, 7) as s, r | (shl128(x, 38) & (s | shl128(x, 7))) as r
    from (select c, x, s | shl128(x, 6) as s, r | (shl128(x, 37) & (s | shl128(x, 6))) as r
    from (select c, x, s | shl128(x, 5) as s, r | (shl128(x, 36) & (s | shl128(x, 5))) as r
    from (select c, x, s | shl128(x, 4) as s, r | (shl128(x, 35) & (s | shl128(x, 4))) as r
    from (select c, x, s | shl128(x, 3) as s, r | (shl128(x, 34) & (s | shl128(x, 3))) as r
    from (select c, x, s | shl128(x, 2) as s, r | (shl128(x, 33) & (s | shl128(x, 2))) as r
    from (select c, x, s | shl128(x, 1) as s, r | (shl128(x, 32) & (s | shl128(x, 1))) as r
    from (select c, x, x as s, shl128(x, 31) & x as r from windows))))))))))))))))))))))))))))
),

bits as (
    select
        c,
        x,
        m4 | shl128(m4, 14) as m,
        r
    from (
        select c, x, r, m3 | shl128(m3, 8) as m4
        from (
            select c, x, r, m2 | shl128(m2, 4) as m3
            from (
                select c, x, r, m1 | shl128(m1, 2) as m2
                from (select c, x, r, x | shl128(x, 1) as m1 from retained)
            )
        )
    )
),

per_block as (
    select
        c,
        [
            sum(cast((x >> 64::uhugeint) & 1 as integer)), sum(cast((x >> 65::uhugeint) & 1 as integer)), sum(cast((x >> 66::uhugeint) & 1 as integer)), sum(cast((x >> 67::uhugeint) & 1 as integer)),
            sum(cast((x >> 68::uhugeint) & 1 as integer)), sum(cast((x >> 69::uhugeint) & 1 as integer)), sum(cast((x >> 70::uhugeint) & 1 as integer)), sum(cast((x >> 71::uhugeint) & 1 as integer)),
            sum(cast((x >> 72::uhugeint) & 1 as integer)), sum(cast((x >> 73::uhugeint) & 1 as integer)), sum(cast((x >> 74::uhugeint) & 1 as integer)), sum(cast((x >> 75::uhugeint) & 1 as integer)),
            sum(cast((x >> 76::uhugeint) & 1 as integer)), sum(cast((x >> 77::uhugeint) & 1 as integer)), sum(cast((x >> 78::uhugeint) & 1 as integer)), sum(cast((x >> 79::uhugeint) & 1 as integer)),
            sum(cast((x >> 80::uhugeint) & 1 as integer)), sum(cast((x >> 81::uhugeint) & 1 as integer)), sum(cast((x >> 82::uhugeint) & 1 as integer)), sum(cast((x >> 83::uhugeint) & 1 as integer)),
            sum(cast((x >> 84::uhugeint) & 1 as integer)), sum(cast((x >> 85::uhugeint) & 1 as integer)), sum(cast((x >> 86::uhugeint) & 1 as integer)), sum(cast((x >> 87::uhugeint) & 1 as integer)),
            sum(cast((x >> 88::uhugeint) & 1 as integer)), sum(cast((x >> 89::uhugeint) & 1 as integer)), sum(cast((x >> 90::uhugeint) & 1 as integer)), sum(cast((x >> 91::uhugeint) & 1 as integer)),
            sum(cast((x >> 92::uhugeint) & 1 as integer)), sum(cast((x >> 93::uhugeint) & 1 as integer)), sum(cast((x >> 94::uhugeint) & 1 as integer)), sum(cast((x >> 95::uhugeint) & 1 as integer)),
            sum(cast((x >> 96::uhugeint) & 1 as integer)), sum(cast((x >> 97::uhugeint) & 1 as integer)), sum(cast((x >> 98::uhugeint) & 1 as integer)), sum(cast((x >> 99::uhugeint) & 1 as integer)),
            sum(cast((x >> 100::uhugeint) & 1 as integer)), sum(cast((x >> 101::uhugeint) & 1 as integer)), sum(cast((x >> 102::uhugeint) & 1 as integer)), sum(cast((x >> 103::uhugeint) & 1 as integer)),
            sum(cast((x >> 104::uhugeint) & 1 as integer)), sum(cast((x >> 105::uhugeint) & 1 as integer)), sum(cast((x >> 106::uhugeint) & 1 as integer)), sum(cast((x >> 107::uhugeint) & 1 as integer)),
            sum(cast((x >> 108::uhugeint) & 1 as integer)), sum(cast((x >> 109::uhugeint) & 1 as integer)), sum(cast((x >> 110::uhugeint) & 1 as integer)), sum(cast((x >> 111::uhugeint) & 1 as integer)),
            sum(cast((x >> 112::uhugeint) & 1 as integer)), sum(cast((x >> 113::uhugeint) & 1 as integer)), sum(cast((x >> 114::uhugeint) & 1 as integer)), sum(cast((x >> 115::uhugeint) & 1 as integer)),
            sum(cast((x >> 116::uhugeint) & 1 as integer)), sum(cast((x >> 117::uhugeint) & 1 as integer)), sum(cast((x >> 118::uhugeint) & 1 as integer)), sum(cast((x >> 119::uhugeint) & 1 as integer)),
            sum(cast((x >> 120::uhugeint) & 1 as integer)), sum(cast((x >> 121::uhugeint) & 1 as integer)), sum(cast((x >> 122::uhugeint) & 1 as integer)), sum(cast((x >> 123::uhugeint) & 1 as integer)),
            sum(cast((x >> 124::uhugeint) & 1 as integer)), sum(cast((x >> 125::uhugeint) & 1 as integer)), sum(cast((x >> 126::uhugeint) & 1 as integer)), sum(cast((x >> 127::uhugeint) & 1 as integer))
        ] as active,
        [
            sum(cast((m >> 64::uhugeint) & 1 as integer)), sum(cast((m >> 65::uhugeint) & 1 as integer)), sum(cast((m >> 66::uhugeint) & 1 as integer)), sum(cast((m >> 67::uhugeint) & 1 as integer)),
            sum(cast((m >> 68::uhugeint) & 1 as integer)), sum(cast((m >> 69::uhugeint) & 1 as integer)), sum(cast((m >> 70::uhugeint) & 1 as integer)), sum(cast((m >> 71::uhugeint) & 1 as integer)),
            sum(cast((m >> 72::uhugeint) & 1 as integer)), sum(cast((m >> 73::uhugeint) & 1 as integer)), sum(cast((m >> 74::uhugeint) & 1 as integer)), sum(cast((m >> 75::uhugeint) & 1 as integer)),
            sum(cast((m >> 76::uhugeint) & 1 as integer)), sum(cast((m >> 77::uhugeint) & 1 as integer)), sum(cast((m >> 78::uhugeint) & 1 as integer)), sum(cast((m >> 79::uhugeint) & 1 as integer)),
            sum(cast((m >> 80::uhugeint) & 1 as integer)), sum(cast((m >> 81::uhugeint) & 1 as integer)), sum(cast((m >> 82::uhugeint) & 1 as integer)), sum(cast((m >> 83::uhugeint) & 1 as integer)),
            sum(cast((m >> 84::uhugeint) & 1 as integer)), sum(cast((m >> 85::uhugeint) & 1 as integer)), sum(cast((m >> 86::uhugeint) & 1 as integer)), sum(cast((m >> 87::uhugeint) & 1 as integer)),
            sum(cast((m >> 88::uhugeint) & 1 as integer)), sum(cast((m >> 89::uhugeint) & 1 as integer)), sum(cast((m >> 90::uhugeint) & 1 as integer)), sum(cast((m >> 91::uhugeint) & 1 as integer)),
            sum(cast((m >> 92::uhugeint) & 1 as integer)), sum(cast((m >> 93::uhugeint) & 1 as integer)), sum(cast((m >> 94::uhugeint) & 1 as integer)), sum(cast((m >> 95::uhugeint) & 1 as integer)),
            sum(cast((m >> 96::uhugeint) & 1 as integer)), sum(cast((m >> 97::uhugeint) & 1 as integer)), sum(cast((m >> 98::uhugeint) & 1 as integer)), sum(cast((m >> 99::uhugeint) & 1 as integer)),
            sum(cast((m >> 100::uhugeint) & 1 as integer)), sum(cast((m >> 101::uhugeint) & 1 as integer)), sum(cast((m >> 102::uhugeint) & 1 as integer)), sum(cast((m >> 103::uhugeint) & 1 as integer)),
            sum(cast((m >> 104::uhugeint) & 1 as integer)), sum(cast((m >> 105::uhugeint) & 1 as integer)), sum(cast((m >> 106::uhugeint) & 1 as integer)), sum(cast((m >> 107::uhugeint) & 1 as integer)),
            sum(cast((m >> 108::uhugeint) & 1 as integer)), sum(cast((m >> 109::uhugeint) & 1 as integer)), sum(cast((m >> 110::uhugeint) & 1 as integer)), sum(cast((m >> 111::uhugeint) & 1 as integer)),
            sum(cast((m >> 112::uhugeint) & 1 as integer)), sum(cast((m >> 113::uhugeint) & 1 as integer)), sum(cast((m >> 114::uhugeint) & 1 as integer)), sum(cast((m >> 115::uhugeint) & 1 as integer)),
            sum(cast((m >> 116::uhugeint) & 1 as integer)), sum(cast((m >> 117::uhugeint) & 1 as integer)), sum(cast((m >> 118::uhugeint) & 1 as integer)), sum(cast((m >> 119::uhugeint) & 1 as integer)),
            sum(cast((m >> 120::uhugeint) & 1 as integer)), sum(cast((m >> 121::uhugeint) & 1 as integer)), sum(cast((m >> 122::uhugeint) & 1 as integer)), sum(cast((m >> 123::uhugeint) & 1 as integer)),
            sum(cast((m >> 124::uhugeint) & 1 as integer)), sum(cast((m >> 125::uhugeint) & 1 as integer)), sum(cast((m >> 126::uhugeint) & 1 as integer)), sum(cast((m >> 127::uhugeint) & 1 as integer))
        ] as monthly,
        [
            sum(cast((r >> 64::uhugeint) & 1 as integer)), sum(cast((r >> 65::uhugeint) & 1 as integer)), sum(cast((r >> 66::uhugeint) & 1 as integer)), sum(cast((r >> 67::uhugeint) & 1 as integer)),
            sum(cast((r >> 68::uhugeint) & 1 as integer)), sum(cast((r >> 69::uhugeint) & 1 as integer)), sum(cast((r >> 70::uhugeint) & 1 as integer)), sum(cast((r >> 71::uhugeint) & 1 as integer)),
            sum(cast((r >> 72::uhugeint) & 1 as integer)), sum(cast((r >> 73::uhugeint) & 1 as integer)), sum(cast((r >> 74::uhugeint) & 1 as integer)), sum(cast((r >> 75::uhugeint) & 1 as integer)),
            sum(cast((r >> 76::uhugeint) & 1 as integer)), sum(cast((r >> 77::uhugeint) & 1 as integer)), sum(cast((r >> 78::uhugeint) & 1 as integer)), sum(cast((r >> 79::uhugeint) & 1 as integer)),
            sum(cast((r >> 80::uhugeint) & 1 as integer)), sum(cast((r >> 81::uhugeint) & 1 as integer)), sum(cast((r >> 82::uhugeint) & 1 as integer)), sum(cast((r >> 83::uhugeint) & 1 as integer)),
            sum(cast((r >> 84::uhugeint) & 1 as integer)), sum(cast((r >> 85::uhugeint) & 1 as integer)), sum(cast((r >> 86::uhugeint) & 1 as integer)), sum(cast((r >> 87::uhugeint) & 1 as integer)),
            sum(cast((r >> 88::uhugeint) & 1 as integer)), sum(cast((r >> 89::uhugeint) & 1 as integer)), sum(cast((r >> 90::uhugeint) & 1 as integer)), sum(cast((r >> 91::uhugeint) & 1 as integer)),
            sum(cast((r >> 92::uhugeint) & 1 as integer)), sum(cast((r >> 93::uhugeint) & 1 as integer)), sum(cast((r >> 94::uhugeint) & 1 as integer)), sum(cast((r >> 95::uhugeint) & 1 as integer)),
            sum(cast((r >> 96::uhugeint) & 1 as integer)), sum(cast((r >> 97::uhugeint) & 1 as integer)), sum(cast((r >> 98::uhugeint) & 1 as integer)), sum(cast((r >> 99::uhugeint) & 1 as integer)),
            sum(cast((r >> 100::uhugeint) & 1 as integer)), sum(cast((r >> 101::uhugeint) & 1 as integer)), sum(cast((r >> 102::uhugeint) & 1 as integer)), sum(cast((r >> 103::uhugeint) & 1 as integer)),
            sum(cast((r >> 104::uhugeint) & 1 as integer)), sum(cast((r >> 105::uhugeint) & 1 as integer)), sum(cast((r >> 106::uhugeint) & 1 as integer)), sum(cast((r >> 107::uhugeint) & 1 as integer)),
            sum(cast((r >> 108::uhugeint) & 1 as integer)), sum(cast((r >> 109::uhugeint) & 1 as integer)), sum(cast((r >> 110::uhugeint) & 1 as integer)), sum(cast((r >> 111::uhugeint) & 1 as integer)),
            sum(cast((r >> 112::uhugeint) & 1 as integer)), sum(cast((r >> 113::uhugeint) & 1 as integer)), sum(cast((r >> 114::uhugeint) & 1 as integer)), sum(cast((r >> 115::uhugeint) & 1 as integer)),
            sum(cast((r >> 116::uhugeint) & 1 as integer)), sum(cast((r >> 117::uhugeint) & 1 as integer)), sum(cast((r >> 118::uhugeint) & 1 as integer)), sum(cast((r >> 119::uhugeint) & 1 as integer)),
            sum(cast((r >> 120::uhugeint) & 1 as integer)), sum(cast((r >> 121::uhugeint) & 1 as integer)), sum(cast((r >> 122::uhugeint) & 1 as integer)), sum(cast((r >> 123::uhugeint) & 1 as integer)),
            sum(cast((r >> 124::uhugeint) & 1 as integer)), sum(cast((r >> 125::uhugeint) & 1 as integer)), sum(cast((r >> 126::uhugeint) & 1 as integer)), sum(cast((r >> 127::uhugeint) & 1 as integer))
        ] as kept
    from bits
    group by c
),

per_day as (
    select
        date '0001-01-01' + cast(c * 64 + b as integer) as date,
        active[b + 1] as dau,
        monthly[b + 1] as mau,
        kept[b + 1] as retained_30
    from per_block
    cross join (select unnest(range(64)) as b)
),

dates as (
    select cast(unnest(generate_series($first::date - 29, $last::date, interval 1 day)) as date) as date
),

averaged as (
    select
        t.date,
        coalesce(p.dau, 0) as dau,
        coalesce(p.mau, 0) as mau,
        coalesce(p.retained_30, 0) as retained_30,
        sum(coalesce(p.dau, 0)) over thirty
            / greatest(count(*) filter (where t.date >= $lake_first::date) over thirty, 1) as dau_avg_30
    from dates as t
    left join per_day as p on p.date = t.date
    window thirty as (order by t.date rows between 29 preceding and current row)
)

select
    date,
    dau::bigint as dau,
    round(dau_avg_30, 2) as dau_avg_30,
    mau::bigint as mau,
    case when mau > 0 then round(dau_avg_30 / mau, 4) end as dau_mau,
    retained_30::bigint as retained_30,
    date - 59 < $lake_first::date as partial
from averaged
where date >= $first::date
order by date
