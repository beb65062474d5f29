-- One row per document of a rocketchat_room export: what the Channels tab shows of a room (its _id,
-- name and fname, ts, t, _updatedAt and usernames), or the reason it is not stored. Reads the view
-- `fields` (staging/fields_from_lines.sql with the structure of pipelines/ingest/registrations.py): no
-- other field of a room (its topic, its last message...) is read. $file_index tells the rows of each
-- file apart.
with

typed as (
    select
        *,
        ejson_id(f._id) as _id,
        ejson_str(f.t) as t,
        ejson_str(f.name) as name,
        ejson_str(f.fname) as fname,
        ejson_date(f.ts) as ts,
        ejson_date(f._updatedAt) as _updatedAt,
        try(json_type(f.usernames)) as usernames_type
    from fields
),

judged as (
    select
        *,
        coalesce(
            unreadable_reason(known_reason, bad_utf8, is_json, is_object, f._id, _id),
            case
                when f.t is null then 'no_t'
                when t is null then 'wrong_type:t'
                when f.ts is not null and not coalesce(in_calendar(ts), false) then 'bad_date:ts'
                when f._updatedAt is not null and not coalesce(in_calendar(_updatedAt), false)
                    then 'bad_date:_updatedAt'
                when usernames_type not in ('ARRAY', 'NULL') then 'wrong_type:usernames'
            end
        ) as reject_reason
    from typed
)

select
    $file_index as file_index,
    line_no,
    reject_reason,
    _id,
    case when reject_reason is null then name end as name,
    case when reject_reason is null then fname end as fname,
    case when reject_reason is null then ts end as ts,
    case when reject_reason is null then t end as t,
    case when reject_reason is null then _updatedAt end as _updatedAt,
    -- absent (null) unless the room has them: a direct message's users
    case when reject_reason is null and usernames_type = 'ARRAY'
        then coalesce(json_extract_string(f.usernames, '$[*]'), []::varchar[])
    end as usernames
from judged
