-- The fields of each row of a plain session log (`log_rows`: line_no and the mapped columns as
-- text, registered by the caller), written as the Extended JSON a mongoexport would hold, so that
-- staging/documents.sql applies every rule to logs as to exports. A log session is a `session`
-- dated by loginAt; $timestamp_format is iso, epoch_s, epoch_ms or a strptime format, and
-- $log_tz the zone of timestamps that carry none. A timestamp that does not parse stays as it
-- was written, and is rejected as a bad date.
with

parsed as (
    select
        line_no,
        known_reason,
        userId,
        role,
        device,
        _id,
        loginAt as raw_login,
        lastActivityAt as raw_last,
        closedAt as raw_closed,
        log_timestamp(loginAt, $timestamp_format, $log_tz) as login_at,
        log_timestamp(lastActivityAt, $timestamp_format, $log_tz) as last_activity_at,
        log_timestamp(closedAt, $timestamp_format, $log_tz) as closed_at
    from log_rows
),

final as (
    select
        line_no,
        false as bad_utf8,
        true as is_json,
        true as is_object,
        known_reason,
        {
            '_id': to_json(coalesce(_id, 'log:' || md5(coalesce(userId, '') || '|' || coalesce(raw_login, '')))),
            'type': '"session"'::json,
            'userId': to_json(userId),
            -- a log without device information is one device, "log"
            'device': case
                when device is null then '{"type":"log"}'::json
                else json_object('type', 'log', 'name', device)
            end,
            'loginAt': date_json(login_at, raw_login),
            'lastActivityAt': date_json(last_activity_at, raw_last),
            'closedAt': date_json(closed_at, raw_closed),
            -- a later, longer sighting of the same session wins
            '_updatedAt': date_json(last_activity_at, raw_last),
            'mostImportantRole': to_json(role),
            'year': null::json,
            'month': null::json,
            'day': null::json
        } as f
    from parsed
)

select * from final
