-- Messages per period (`engagement messages`): the rooms' messages per day (`room_days`) of the
-- days $first..$last, summed per day, ISO week (from Monday) or month ($unit), and per room or room
-- type when $by says so ('room', 'type'; '' for totals). Periods the range cuts are marked partial;
-- `source` names where the period's numbers come from (rocketchat_analytics, rocketchat_message, or both).
with

dated as (
    select
        yyyymmdd_date(date) as day,
        room_id,
        room_name,
        room_t,
        messages,
        source
    from room_days
    where date between $first_int and $last_int
)

select
    date_trunc($unit, day)::date as period_start,
    case when $by = 'room' then room_id end as room_id,
    case when $by = 'room' then any_value(room_name) end as room_name,
    case when $by in ('room', 'type') then room_t end as t,
    sum(messages)::bigint as messages,
    string_agg(distinct source, '+' order by source) as source,
    date_trunc($unit, day)::date < $first
        or (date_trunc($unit, day) + ('1 ' || $unit)::interval - interval 1 day)::date > $last as partial
from dated
group by all
order by period_start, messages desc, t, room_id
