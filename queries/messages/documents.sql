-- One row per document of a rocketchat_message export, judged: what the lake keeps of a message
-- (_id, rid, ts, its server-local date in $tz, whether it has `t`, its sender's id), or the reason it
-- is not stored. Reads the view `message_fields` (messages/typed_from_json.sql or typed_from_bson.sql);
-- $file_index tells the rows of each file apart.
with

judged as (
    select
        *,
        coalesce(
            -- (has_id stands for the _id's text, which only its absence makes null)
            unreadable_reason(known_reason, bad_utf8, is_json, is_object, nullif(has_id, false), _id),
            case
                when not has_rid then 'no_rid'
                when rid is null then 'wrong_type:rid'
                when not has_ts then 'no_ts'
                when ts is null or not coalesce(in_calendar(ts), false) then 'bad_date:ts'
                when has_u and not u_is_document then 'wrong_type:u'
            end
        ) as reject_reason
    from message_fields
)

select
    $file_index as file_index,
    line_no,
    reject_reason,
    _id,
    case when reject_reason is null then rid end as rid,
    case when reject_reason is null then ts end as ts,
    case when reject_reason is null then cast(timezone($tz, timezone('UTC', ts)) as date) end as date,
    case when reject_reason is null then has_t end as t,
    case when reject_reason is null then sender end as sender
from judged
