-- The counting rule, in one place: which sessions make a user active on a day (the spec's
-- "qualifying session"). A session or computed session with a user, a device, loginAt and
-- lastActivityAt, lasting at least one whole second: 999 ms does not count, 1000 ms does.
-- marts/user_daily.sql builds the rollup from these; history/explain_day.sql says why a user was not.
create or replace macro lasts_a_whole_second(login_at, last_activity_at) as
    epoch_ms(last_activity_at) - epoch_ms(login_at) >= 1000;

create or replace macro session_seconds(login_at, last_activity_at) as
    -- whole seconds, truncated
    (epoch_ms(last_activity_at) - epoch_ms(login_at)) // 1000;

create or replace macro is_qualifying_session(type, user_id, device, login_at, last_activity_at) as
    type in ('session', 'computed-session')
    and user_id is not null
    and device is not null
    and login_at is not null
    and last_activity_at is not null
    and lasts_a_whole_second(login_at, last_activity_at);
