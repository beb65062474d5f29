-- One row per document of a users export: its _id, createdAt and whether its roles include
-- "anonymous", or the reason it is not stored. Reads the view `fields`
-- (staging/fields_from_lines.sql with the structure of pipelines/ingest/registrations.py): no other field
-- of an account is ever read. $file_index tells the rows of each file apart.
with

typed as (
    select
        *,
        ejson_id(f._id) as _id,
        ejson_date(f.createdAt) as createdAt,
        json_type(f.roles) as roles_type
    from fields
),

judged as (
    select
        *,
        coalesce(
            unreadable_reason(known_reason, bad_utf8, is_json, is_object, f._id, _id),
            case
                when f.createdAt is null then 'no_createdAt'
                when not coalesce(in_calendar(createdAt), false) then 'bad_date:createdAt'
                when roles_type not in ('ARRAY', 'VARCHAR', 'NULL') then 'wrong_type:roles'
            end
        ) as reject_reason
    from typed
)

select
    $file_index as file_index,
    line_no,
    reject_reason,
    _id,
    case when reject_reason is null then createdAt end as createdAt,
    -- as Rocket.Chat's roles: {$ne: 'anonymous'}: an array holding it, or the string itself
    case
        when reject_reason is not null then null
        when roles_type = 'ARRAY' then coalesce(list_contains(json_extract_string(f.roles, '$[*]'), 'anonymous'), false)
        when roles_type = 'VARCHAR' then json_extract_string(f.roles, '$') = 'anonymous'
        else false
    end as anonymous
from judged
