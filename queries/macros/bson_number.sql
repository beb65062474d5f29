-- A BSON number field (type code k; integer i, double d) as the JSON mongoexport writes for it;
-- another type becomes a JSON string (rejected as a wrong type); absent and null become null.
create or replace macro bson_number(k, i, d) as
case
    when k = 0 or k = 10 then null
    when k = 16 or k = 18 then i::varchar::json
    when k = 1 and isfinite(d) then d::varchar::json
    else '"?"'::json
end
