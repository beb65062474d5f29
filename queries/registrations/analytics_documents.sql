-- One row per document of a rocketchat_analytics export: its _id, date and users, typed, or the
-- reason it is not stored. Reads the view `fields` (staging/fields_from_lines.sql with the
-- structure of pipelines/ingest/registrations.py). Type "users" documents are kept here; type
-- "messages" ones are marked `in_messages` (registrations/messages_documents.sql judges and keeps
-- them); the others (rooms) are `unused_type`. $file_index tells the rows of each file apart.
with

typed as (
    select
        *,
        ejson_id(f._id) as _id,
        ejson_str(f.type) as type,
        ejson_int(f.date) as date_int,
        ejson_int(f.users) as users
    from fields
),

judged as (
    select
        *,
        coalesce(
            unreadable_reason(known_reason, bad_utf8, is_json, is_object, f._id, _id),
            case
                when f.type is null then 'no_type'
                when type is null then 'wrong_type:type'
                when type = 'messages' then 'in_messages'
                when type <> 'users' then 'unused_type'
                when f.date is null then 'no_date'
                when date_int is null then 'wrong_type:date'
                                when yyyymmdd_date(date_int) is null then 'bad_date:date'
                when f.users is null then 'no_users'
                when users is null then 'wrong_type:users'
            end
        ) as reject_reason
    from typed
)

select
    $file_index as file_index,
    line_no,
    reject_reason,
    _id,
    case when reject_reason is null then date_int::integer end as date,
    case when reject_reason is null then users end as users
from judged
