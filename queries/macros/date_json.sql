-- A timestamp as a relaxed Extended JSON date; when it did not parse, the text as it was written
-- (which staging/documents.sql then rejects as a bad date).
create or replace macro date_json(ts, raw) as
case
    when ts is not null then ('{"$date":"' || strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') || '"}')::json
    when raw is not null and trim(raw) <> '' then json_object('$date', raw)::json
end
