-- A MongoDB Extended JSON date, relaxed ({"$date": "2023-05-12T10:00:00.000Z"}), canonical
-- ({"$date": {"$numberLong": "1683885600000"}}) or legacy ({"$date": 1683885600000}), as a
-- timestamp in UTC; null when the value is absent or is not a date (the caller tells the two
-- apart). The first try reads mongoexport's own relaxed form in one pass, without parsing JSON.
create or replace macro ejson_date(v) as
coalesce(
    try_strptime(v, '{"$date":"%Y-%m-%dT%H:%M:%S.%gZ"}'),
    case
        when not starts_with(v, '{') then null
        when json_type(v, '$."$date"') = 'VARCHAR'
            then timezone('UTC', try_cast(json_extract_string(v, '$."$date"') as timestamptz))
        when json_type(v, '$."$date"') in ('BIGINT', 'UBIGINT')
            then try(epoch_ms(try_cast(json_extract_string(v, '$."$date"') as bigint)))
        when json_type(v, '$."$date"."$numberLong"') = 'VARCHAR'
            then try(epoch_ms(try_cast(json_extract_string(v, '$."$date"."$numberLong"') as bigint)))
    end
)
