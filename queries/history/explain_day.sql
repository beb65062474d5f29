-- Why weekly-data shows the number it shows for $date: every user seen that day, counted or not.
-- Reads the views `sessions` and `user_daily` (pipelines/lake/snapshot.py) of that date. Counted: the
-- day's active user-days whose role counts (as weekly-data counts them), with their role, source,
-- seconds, sessions and, for a day built from sessions, the device whose role was taken (the one
-- with the most seconds, as marts/user_daily.sql picks it). Not counted, with the reason: an
-- anonymous user-day, or sessions none of which qualifies (each kind of fault with its count).
with

day_sessions as (
    select *
    from sessions
    where date = $date
        and type in ('session', 'computed-session')
        and userId is not null
),

faults as (
    select
        userId,
        count(*) as seen,
        count(*) filter (where device is null) as no_device,
        count(*) filter (where loginAt is null) as no_login,
        count(*) filter (where lastActivityAt is null) as no_last_activity,
        count(*) filter (
            where device is not null and loginAt is not null and lastActivityAt is not null
                and not lasts_a_whole_second(loginAt, lastActivityAt)
        ) as under_a_second
    from day_sessions
    group by userId
),

device_days as (
    select
        userId,
        device,
        sum(session_seconds(loginAt, lastActivityAt)) as seconds
    from day_sessions
    -- the counting rule: macros/qualifying_session.sql
    where is_qualifying_session(type, userId, device, loginAt, lastActivityAt)
    group by userId, device
),

top_devices as (
    select
        userId,
        arg_max(device, (seconds, device)) as device
    from device_days
    group by userId
),

days as (
    select *
    from user_daily
    where date = $date
),

-- the day's active user-days: counted, or anonymous
active as (
    select
        d.userId,
        is_counted(d.role) as counted,
        case when not is_counted(d.role) then 'anonymous' end as reason,
        d.role,
        d.source,
        d.seconds::bigint as seconds,
        d.sessions,
        t.device
    from days as d
    left join top_devices as t on t.userId = d.userId
),

inactive as (
    select
        f.userId,
        false as counted,
        concat_ws(
            ', ',
            case when f.under_a_second > 0 then f.under_a_second || ' under a whole second' end,
            case when f.no_device > 0 then f.no_device || ' without a device' end,
            case when f.no_last_activity > 0 then f.no_last_activity || ' without lastActivityAt' end,
            case when f.no_login > 0 then f.no_login || ' without loginAt' end
        ) || ' (of ' || f.seen || ' session' || case when f.seen = 1 then '' else 's' end || ')' as reason,
        null::varchar as role,
        null::varchar as source,
        null::bigint as seconds,
        f.seen::integer as sessions,
        null::varchar as device
    from faults as f
    where f.userId not in (select userId from days)
),

final as (
    select * from active
    union all
    select * from inactive
)

select * from final
order by counted desc, userId
