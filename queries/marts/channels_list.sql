-- Rocket.Chat's Analytics.findRoomsByTypesWithNumberOfMessagesBetweenDate: the rooms' messages per
-- day (`room_days`: pipelines/metrics/messages.py) of the dashboard's room types ($types) dated
-- $start_of_last_week..$end, summed per room into this period's messages (dates >= $start) and the last period's (dates <= $end_of_last_week),
-- joined with the rooms that still exist ($rooms: a room no longer there is dropped), the name being
-- the room's name, else its fname; most messages first (ties, which MongoDB leaves arbitrary: by
-- _id). The page (offset, count) is taken by pipelines/metrics/channels.py, which counts the total.
with

per_room as (
    select
        room_id,
        sum(case when date >= $start then messages else 0 end)::bigint as messages,
        sum(case when date <= $end_of_last_week then messages else 0 end)::bigint as last_week
    from room_days
    where room_t in (select unnest($types)) and date between $start_of_last_week and $end
    group by room_id
),

listed as (
    select
        r._id,
        coalesce(r.name, r.fname) as name,
        r.ts,
        r.t,
        r._updatedAt,
        r.usernames,
        p.messages,
        p.last_week,
        p.messages - p.last_week as diff
    from per_room as p
    inner join read_parquet($rooms) as r on r._id = p.room_id
)

select *
from listed
order by messages desc, _id
