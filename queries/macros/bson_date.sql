-- A BSON date field (type code k, milliseconds ms) as mongoexport's relaxed Extended JSON (the
-- canonical form outside years 1..9999, as mongoexport does); another type becomes a JSON number
-- (rejected as a bad date); absent and null become null.
create or replace macro bson_date(k, ms) as
case
    when k = 0 or k = 10 then null
    when k <> 9 then '0'::json
    when ms between -62135596800000 and 253402300799999
        then ('{"$date":"' || strftime(epoch_ms(ms), '%Y-%m-%dT%H:%M:%S.%gZ') || '"}')::json
    else ('{"$date":{"$numberLong":"' || ms || '"}}')::json
end
