-- A BSON string field (type code k, text s) as the JSON mongoexport writes for it; a value of
-- another type becomes a JSON number (rejected as a wrong type); absent and null become null.
create or replace macro bson_string(k, s) as
case k when 0 then null when 10 then null when 2 then to_json(s) else '0'::json end
