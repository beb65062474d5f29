-- The active user-days of the dates in `day_sessions` (the caller's view of the stored documents
-- of those dates): one row per (userId, date), the union of Rocket.Chat's own user_daily
-- documents and the days rebuilt from raw sessions.
with

qualifying_sessions as (
    select
        date,
        _id,
        userId,
        loginAt,
        mostImportantRole,
        session_seconds(loginAt, lastActivityAt) as seconds,
        -- Rocket.Chat groups by the whole device object, kept as its JSON text
        device as device_key
    from day_sessions
    -- the counting rule: macros/qualifying_session.sql
    where is_qualifying_session(type, userId, device, loginAt, lastActivityAt)
),

device_days as (
    select
        date,
        userId,
        device_key,
        sum(seconds) as seconds,
        count(*) as sessions,
        -- the role of the device's first session, as Rocket.Chat's $first after its natural order
        arg_min_null(mostImportantRole, (loginAt, _id)) as role
    from qualifying_sessions
    group by
        date,
        userId,
        device_key
),

session_days as (
    select
        date,
        userId,
        -- the role of the device with the most seconds that day
        arg_max_null(role, (seconds, device_key)) as role,
        sum(seconds) as seconds,
        sum(sessions) as sessions
    from device_days
    group by
        date,
        userId
),

document_days as (
    select
        date,
        userId,
        arg_max_null(mostImportantRole, (_updatedAt, _id)) as role
    from day_sessions
    where type = 'user_daily'
        and userId is not null
    group by
        date,
        userId
),

final as (
    select
        coalesce(d.date, s.date) as date,
        coalesce(d.userId, s.userId) as userId,
        -- Rocket.Chat's own rollup is what its dashboard counts, so its role wins
        case when d.userId is not null then d.role else s.role end as role,
        -- seconds and sessions of the raw sessions, when there are any
        s.seconds,
        s.sessions::integer as sessions,
        case
            when d.userId is not null and s.userId is not null then 'both'
            when d.userId is not null then 'user_daily'
            else 'sessions'
        end as source
    from document_days as d
    full outer join session_days as s
        on d.date = s.date
        and d.userId = s.userId
)

select * from final
order by
    date,
    userId
