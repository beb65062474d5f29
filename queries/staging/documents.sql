-- One row per input document of a mongoexport of rocketchat_sessions: its fields, typed, or the
-- reason it is rejected. Reads the relation `typed` (staging/typed_from_json.sql over any reader's
-- fields, or staging/typed_from_bson.sql over a mongodump's: line_no, bad_utf8, is_json, is_object,
-- known_reason, f telling per field whether the document has it, and the typed fields); $tz is the
-- server's zone, used only to date a session that has no day fields; $file_index tells the rows of
-- each file apart.
with

dated as (
    select
        *,
        $file_index as file_index,
        -- the server-local day fields win over loginAt; they must all be there to count
        case
            when year between 1 and 9999 and month between 1 and 12 and day between 1 and 31
                then try(make_date(year::integer, month::integer, day::integer))
        end as day_fields_date,
        -- only a session without day fields is dated by loginAt, in the server's zone
        case
            when (year is null or month is null or day is null) and in_calendar(loginAt)
                then try(cast(timezone($tz, timezone('UTC', loginAt)) as date))
        end
            as login_date
    from typed
),

judged as (
    select
        *,
        coalesce(
            unreadable_reason(known_reason, bad_utf8, is_json, is_object, f._id, _id),
            case
                when f.type is not null and type is null then 'wrong_type:type'
                when type is null or type not in ('session', 'computed-session', 'user_daily') then 'unknown_type'
                when f.userId is not null and userId is null then 'wrong_type:userId'
                -- a date that does not parse, or lies outside years 0001..9999
                when f.loginAt is not null and not coalesce(in_calendar(loginAt), false) then 'bad_date:loginAt'
                when f.lastActivityAt is not null and not coalesce(in_calendar(lastActivityAt), false)
                    then 'bad_date:lastActivityAt'
                when f.closedAt is not null and not coalesce(in_calendar(closedAt), false) then 'bad_date:closedAt'
                when f._updatedAt is not null and not coalesce(in_calendar(_updatedAt), false) then 'bad_date:_updatedAt'
                when f.device is not null and device is null then 'wrong_type:device'
                when f.mostImportantRole is not null and mostImportantRole is null then 'wrong_type:mostImportantRole'
                when f.year is not null and year is null then 'wrong_type:year'
                when f.month is not null and month is null then 'wrong_type:month'
                when f.day is not null and day is null then 'wrong_type:day'
                -- a day field out of its range is bad even when the others are missing
                when year not between 1 and 9999 or month not between 1 and 12 or day not between 1 and 31
                    then 'bad_day_fields'
                when year is not null and month is not null and day is not null and day_fields_date is null
                    then 'bad_day_fields'
                when type = 'user_daily' and day_fields_date is null then 'no_day'
                when coalesce(day_fields_date, login_date) is null then 'no_day'
                -- loginAt on 9999-12-31 can be 10000-01-01 in the server's zone
                when coalesce(day_fields_date, login_date) not between date '0001-01-01' and date '9999-12-31'
                    then 'bad_date:loginAt'
            end
        ) as reject_reason
    from dated
),

final as (
    select
        file_index,
        line_no,
        reject_reason,
        -- a rejected document keeps the date it names, when it names a real one (explain counts
        -- a day's rejects by it); only accepted documents are stored under theirs
        case
            when reject_reason is null
                or coalesce(day_fields_date, login_date) between date '0001-01-01' and date '9999-12-31'
                then coalesce(day_fields_date, login_date)
        end as date,
        _id,
        type,
        userId,
        loginAt,
        lastActivityAt,
        closedAt,
        _updatedAt,
        device,
        mostImportantRole,
        -- a rejected row may hold any number here: try_cast keeps it from failing the run
        try_cast(year as integer) as year,
        try_cast(month as integer) as month,
        try_cast(day as integer) as day
    from judged
)

select * from final
