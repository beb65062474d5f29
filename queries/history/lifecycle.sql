-- Lifecycle (`engagement lifecycle`), as PostHog draws it: per day, ISO week (Monday first) or
-- calendar month ($unit) starting in $first..$last, the users active in it (non-anonymous, as
-- weekly-data counts) who are
--   new          their first day the lake counts them falls in this period;
--   returning    active in the previous period too;
--   resurrecting not active in the previous period, and first seen before it;
-- and dormant: the users active in the previous period and not in this one, as a negative number.
-- Days after $last are never read (a last period cut by $last counts its days up to $last). Reads
-- `marks`: each user's active periods up to $last as 64-bit masks (history/period_masks.sql); each
-- set bit of a period in the range, or just before it, is one row that knows whether the periods
-- before and after it are set too (across a block's edge, from the user's neighbouring block).
with

bounds as (
    select
        period_from($unit, $first::date) as low,
        period_index($unit, $last::date) as high
),

blocks as (
    select
        chunk,
        mask,
        min(chunk * 64 + lowest_bit(mask)) over by_user as first_idx,
        lag(chunk) over by_chunk as before_chunk,
        lag(mask) over by_chunk as before_mask,
        lead(chunk) over by_chunk as after_chunk,
        lead(mask) over by_chunk as after_mask
    from marks
    window by_user as (partition by userId), by_chunk as (partition by userId order by chunk)
),

-- each active period from the one before the range's first to its last
bits as (
    select
        k.chunk * 64 + b.bit as idx,
        k.first_idx,
        case when b.bit > 0 then (k.mask >> (b.bit - 1)::ubigint) & 1 = 1
            else coalesce(k.before_chunk = k.chunk - 1 and (k.before_mask >> 63::ubigint) & 1 = 1, false)
        end as was_active,
        case when b.bit < 63 then (k.mask >> (b.bit + 1)::ubigint) & 1 = 1
            else coalesce(k.after_chunk = k.chunk + 1 and k.after_mask & 1 = 1, false)
        end as stays_active
    from blocks as k
    cross join (select unnest(range(64)) as bit) as b
    where k.chunk between ((select low from bounds) - 1) // 64 and (select high from bounds) // 64
        and (k.mask >> b.bit::ubigint) & 1 = 1
        and k.chunk * 64 + b.bit between (select low from bounds) - 1 and (select high from bounds)
),

counts as (
    select
        idx,
        count(*) filter (where idx = first_idx) as new,
        count(*) filter (where idx <> first_idx and was_active) as returning,
        count(*) filter (where idx <> first_idx and not was_active) as resurrecting
    from bits
    group by idx
),

-- active in a period and not in the next: dormant in the next
gone as (
    select
        idx + 1 as idx,
        count(*) as dormant
    from bits
    where not stays_active
    group by idx
),

periods as (
    select unnest(range((select low from bounds), (select high from bounds) + 1)) as idx
)

select
    period_start($unit, p.idx) as period_start,
    coalesce(c.new, 0) as new,
    coalesce(c.returning, 0) as returning,
    coalesce(c.resurrecting, 0) as resurrecting,
    -coalesce(g.dormant, 0) as dormant
from periods as p
left join counts as c on c.idx = p.idx
left join gone as g on g.idx = p.idx
order by p.idx
