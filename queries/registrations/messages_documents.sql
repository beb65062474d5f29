-- One row per type "messages" document of a rocketchat_analytics export (one room's messages of one
-- server-local day, as Rocket.Chat's Analytics.saveMessageSent keeps them): its _id, date (an integer
-- yyyyMMdd), the room's _id, name, type and usernames, and the messages, typed, or the reason it is not
-- stored. Other types are marked `not_messages` (registrations/analytics_documents.sql judges them).
-- Reads the view `fields`, as analytics_documents.sql; $file_index tells the rows of each file apart.
with

typed as (
    select
        *,
        ejson_id(f._id) as _id,
        ejson_str(f.type) as type,
        ejson_int(f.date) as date_int,
        ejson_int(f.messages) as messages,
        try(json_extract_string(f.room, '$._id')) as room_id,
        try(json_extract_string(f.room, '$.name')) as room_name,
        try(json_extract_string(f.room, '$.t')) as room_t,
        try(json_type(f.room, '$.usernames')) as usernames_type,
        try(json_extract_string(f.room, '$.usernames[*]')) as room_usernames
    from fields
),

judged as (
    select
        *,
        case
            -- unreadable documents, and those of other types, are analytics_documents.sql's to judge
            when type is distinct from 'messages' then 'not_messages'
            else coalesce(
                unreadable_reason(known_reason, bad_utf8, is_json, is_object, f._id, _id),
                case
                    when f.date is null then 'no_date'
                    when date_int is null then 'wrong_type:date'
                    when yyyymmdd_date(date_int) is null then 'bad_date:date'
                    when f.room is null or try(json_type(f.room)) is distinct from 'OBJECT' then 'no_room'
                    when room_id is null or room_t is null then 'wrong_type:room'
                    when f.messages is null then 'no_messages'
                    when messages is null then 'wrong_type:messages'
                end
            )
        end as reject_reason
    from typed
)

select
    $file_index as file_index,
    line_no,
    reject_reason,
    _id,
    case when reject_reason is null then date_int::integer end as date,
    case when reject_reason is null then room_id end as room_id,
    case when reject_reason is null then room_name end as room_name,
    case when reject_reason is null then room_t end as room_t,
    -- the room's usernames as Rocket.Chat stored them (a direct message's two users; [] for a channel)
    case when reject_reason is null then coalesce(
        case when usernames_type = 'ARRAY' then room_usernames end, []::varchar[]
    ) end as usernames,
    case when reject_reason is null then messages end as messages
from judged
