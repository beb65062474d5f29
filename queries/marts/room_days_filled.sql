-- The rooms' messages per day from rocketchat_message, as Rocket.Chat's fill counts them
-- (fillFirstDaysOfMessagesIfNeeded with Messages.getTotalOfMessagesSentByDate): the messages
-- without `t` (`rollups`: the room_daily rows of pipelines/ingest/messages.py, never the messages
-- themselves), per room and day, joined with the rooms that exist ($rooms: `$unwind` drops a
-- message whose room is gone), of every room type (the fill does not filter them); the room named
-- by its fname when it has one, else its name (`$cond` with `$ifNull`: an empty fname is kept),
-- its usernames or none. The day is the UTC date of `ts` ($utc: the fill's `$substr` of the
-- date), or the lake's local day (the partition's). Only dates $first..$last outside the
-- analytics' span $span_first..$span_last are kept (no span: $span_first null; a span with no end:
-- $span_last null): inside it the analytics answer.
with

per_day as (
    select
        cast(strftime(case when $utc then coalesce(utc_date, date) else date end, '%Y%m%d') as integer) as date,
        rid,
        sum(messages) as messages
    from rollups
    group by all
)

select
    d.date,
    r._id as room_id,
    coalesce(r.fname, r.name) as room_name,
    r.t as room_t,
    coalesce(r.usernames, []::varchar[]) as usernames,
    d.messages,
    'rocketchat_message' as source
from per_day as d
inner join read_parquet($rooms) as r on r._id = d.rid
where
    d.messages > 0
    and d.date between $first and $last
    and not (d.date >= coalesce($span_first, 99999999) and d.date <= coalesce($span_last, 99999999))
