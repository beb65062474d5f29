-- A day's period as a whole number that counts periods ($unit: 'day', 'week' or 'month') from
-- 0001-01-01, a Monday: consecutive periods are consecutive numbers (so a user's periods fit in
-- bitmasks, queries/history/retention.sql and its neighbours); period_start turns one back into its
-- first day (a Monday for an ISO week, the 1st for a month).
create or replace macro period_index(unit, d) as
case unit
    when 'day' then d - date '0001-01-01'
    when 'week' then (d - date '0001-01-01') // 7
    else (year(d) - 1) * 12 + month(d) - 1
end;

create or replace macro period_start(unit, i) as
case unit
    when 'day' then date '0001-01-01' + cast(i as integer)
    when 'week' then date '0001-01-01' + cast(i * 7 as integer)
    else make_date(cast(i // 12 + 1 as integer), cast(i % 12 + 1 as integer), 1)
end;

-- The number of the lowest set bit of a non-zero 64-bit mask (0 for 1, 3 for 8): the first of a
-- user's periods in a block of them.
create or replace macro lowest_bit(mask) as
cast(log2(cast(mask & ~(mask - 1) as double)) as integer);

-- x << k for a 128-bit number, the bits shifted past the top dropped (DuckDB refuses the overflow):
-- history/stickiness_daily.sql's bit-parallel spans.
create or replace macro shl128(x, k) as
(x & ((1::uhugeint << cast(128 - k as uhugeint)) - 1)) << cast(k as uhugeint);

-- The number of the first period that starts on or after day d (d's own when d starts it).
create or replace macro period_from(unit, d) as
period_index(unit, d) + case when period_start(unit, period_index(unit, d)) < d then 1 else 0 end;
