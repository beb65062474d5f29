-- One row per input document of a mongoexport of rocketchat_sessions: its fields, typed, or the
-- reason it is rejected. Reads the relation `fields` (staging/fields_*.sql: line_no, bad_utf8,
-- is_json, is_object, known_reason, and f, the document's fields as JSON text); $tz is the server's zone, used
-- only to date a session that has no day fields; $file_index tells the rows of each file apart.
with

typed as (
    select
        $file_index as file_index,
        line_no,
        bad_utf8,
        is_json,
        is_object,
        known_reason,
        f,
        ejson_id(f._id) as _id,
        ejson_str(f.type) as type,
        ejson_str(f.userId) as userId,
        ejson_date(f.loginAt) as loginAt,
        ejson_date(f.lastActivityAt) as lastActivityAt,
        ejson_date(f.closedAt) as closedAt,
        ejson_date(f._updatedAt) as _updatedAt,
        -- kept as its minified JSON text: Rocket.Chat groups sessions by the whole device object
        case when starts_with(f.device, '{') then f.device::varchar end as device,
        ejson_str(f.mostImportantRole) as mostImportantRole,
        ejson_int(f.year) as year,
        ejson_int(f.month) as month,
        ejson_int(f.day) as day
    from fields
),

dated as (
    select
        *,
        -- the server-local day fields win over loginAt; they must all be there to count
        case
            when year is not null and month is not null and day is not null
                then try(make_date(year::integer, month::integer, day::integer))
        end as day_fields_date,
        -- only a session without day fields is dated by loginAt, in the server's zone
        case
            when year is null or month is null or day is null
                then cast(timezone($tz, timezone('UTC', loginAt)) as date)
        end
            as login_date
    from typed
),

judged as (
    select
        *,
        case
            when known_reason is not null then known_reason
            when bad_utf8 then 'bad_utf8'
            when not is_json then 'bad_json'
            when not is_object then 'not_an_object'
            when f._id is null then 'no_id'
            when _id is null then 'wrong_type:_id'
            when f.type is null or type not in ('session', 'computed-session', 'user_daily') then 'unknown_type'
            when f.userId is not null and userId is null then 'wrong_type:userId'
            when f.loginAt is not null and loginAt is null then 'bad_date:loginAt'
            when f.lastActivityAt is not null and lastActivityAt is null then 'bad_date:lastActivityAt'
            when f.closedAt is not null and closedAt is null then 'bad_date:closedAt'
            when f._updatedAt is not null and _updatedAt is null then 'bad_date:_updatedAt'
            when f.device is not null and device is null then 'wrong_type:device'
            when f.mostImportantRole is not null and mostImportantRole is null then 'wrong_type:mostImportantRole'
            when f.year is not null and year is null then 'wrong_type:year'
            when f.month is not null and month is null then 'wrong_type:month'
            when f.day is not null and day is null then 'wrong_type:day'
            when year is not null and month is not null and day is not null and day_fields_date is null
                then 'bad_day_fields'
            when type = 'user_daily' and day_fields_date is null then 'no_day'
            when coalesce(day_fields_date, login_date) is null then 'no_day'
        end as reject_reason
    from dated
),

final as (
    select
        file_index,
        line_no,
        reject_reason,
        coalesce(day_fields_date, login_date) as date,
        _id,
        type,
        userId,
        loginAt,
        lastActivityAt,
        closedAt,
        _updatedAt,
        device,
        mostImportantRole,
        year::integer as year,
        month::integer as month,
        day::integer as day
    from judged
)

select * from final
