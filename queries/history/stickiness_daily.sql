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
-- The users of each day are then the sums of one bit over the blocks (64 sums per block and set).
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

bits as materialized (
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

-- the three bit sets of each block as rows, so that one list of 64 bit sums counts each
per_block as (
    select
        c,
        kind,
        [
            sum(cast((v >> 64::uhugeint) & 1 as integer)), sum(cast((v >> 65::uhugeint) & 1 as integer)), sum(cast((v >> 66::uhugeint) & 1 as integer)), sum(cast((v >> 67::uhugeint) & 1 as integer)),
            sum(cast((v >> 68::uhugeint) & 1 as integer)), sum(cast((v >> 69::uhugeint) & 1 as integer)), sum(cast((v >> 70::uhugeint) & 1 as integer)), sum(cast((v >> 71::uhugeint) & 1 as integer)),
            sum(cast((v >> 72::uhugeint) & 1 as integer)), sum(cast((v >> 73::uhugeint) & 1 as integer)), sum(cast((v >> 74::uhugeint) & 1 as integer)), sum(cast((v >> 75::uhugeint) & 1 as integer)),
            sum(cast((v >> 76::uhugeint) & 1 as integer)), sum(cast((v >> 77::uhugeint) & 1 as integer)), sum(cast((v >> 78::uhugeint) & 1 as integer)), sum(cast((v >> 79::uhugeint) & 1 as integer)),
            sum(cast((v >> 80::uhugeint) & 1 as integer)), sum(cast((v >> 81::uhugeint) & 1 as integer)), sum(cast((v >> 82::uhugeint) & 1 as integer)), sum(cast((v >> 83::uhugeint) & 1 as integer)),
            sum(cast((v >> 84::uhugeint) & 1 as integer)), sum(cast((v >> 85::uhugeint) & 1 as integer)), sum(cast((v >> 86::uhugeint) & 1 as integer)), sum(cast((v >> 87::uhugeint) & 1 as integer)),
            sum(cast((v >> 88::uhugeint) & 1 as integer)), sum(cast((v >> 89::uhugeint) & 1 as integer)), sum(cast((v >> 90::uhugeint) & 1 as integer)), sum(cast((v >> 91::uhugeint) & 1 as integer)),
            sum(cast((v >> 92::uhugeint) & 1 as integer)), sum(cast((v >> 93::uhugeint) & 1 as integer)), sum(cast((v >> 94::uhugeint) & 1 as integer)), sum(cast((v >> 95::uhugeint) & 1 as integer)),
            sum(cast((v >> 96::uhugeint) & 1 as integer)), sum(cast((v >> 97::uhugeint) & 1 as integer)), sum(cast((v >> 98::uhugeint) & 1 as integer)), sum(cast((v >> 99::uhugeint) & 1 as integer)),
            sum(cast((v >> 100::uhugeint) & 1 as integer)), sum(cast((v >> 101::uhugeint) & 1 as integer)), sum(cast((v >> 102::uhugeint) & 1 as integer)), sum(cast((v >> 103::uhugeint) & 1 as integer)),
            sum(cast((v >> 104::uhugeint) & 1 as integer)), sum(cast((v >> 105::uhugeint) & 1 as integer)), sum(cast((v >> 106::uhugeint) & 1 as integer)), sum(cast((v >> 107::uhugeint) & 1 as integer)),
            sum(cast((v >> 108::uhugeint) & 1 as integer)), sum(cast((v >> 109::uhugeint) & 1 as integer)), sum(cast((v >> 110::uhugeint) & 1 as integer)), sum(cast((v >> 111::uhugeint) & 1 as integer)),
            sum(cast((v >> 112::uhugeint) & 1 as integer)), sum(cast((v >> 113::uhugeint) & 1 as integer)), sum(cast((v >> 114::uhugeint) & 1 as integer)), sum(cast((v >> 115::uhugeint) & 1 as integer)),
            sum(cast((v >> 116::uhugeint) & 1 as integer)), sum(cast((v >> 117::uhugeint) & 1 as integer)), sum(cast((v >> 118::uhugeint) & 1 as integer)), sum(cast((v >> 119::uhugeint) & 1 as integer)),
            sum(cast((v >> 120::uhugeint) & 1 as integer)), sum(cast((v >> 121::uhugeint) & 1 as integer)), sum(cast((v >> 122::uhugeint) & 1 as integer)), sum(cast((v >> 123::uhugeint) & 1 as integer)),
            sum(cast((v >> 124::uhugeint) & 1 as integer)), sum(cast((v >> 125::uhugeint) & 1 as integer)), sum(cast((v >> 126::uhugeint) & 1 as integer)), sum(cast((v >> 127::uhugeint) & 1 as integer))
        ] as counts
    from (
        select c, 'active' as kind, x as v from bits
        union all
        select c, 'monthly', m from bits
        union all
        select c, 'kept', r from bits
    )
    group by c, kind
),

per_day as (
    select
        date '0001-01-01' + cast(c * 64 + b as integer) as date,
        sum(counts[b + 1]) filter (where kind = 'active') as dau,
        sum(counts[b + 1]) filter (where kind = 'monthly') as mau,
        sum(counts[b + 1]) filter (where kind = 'kept') as retained_30
    from per_block
    cross join (select unnest(range(64)) as b)
    group by c, b
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
