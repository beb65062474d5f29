-- A BSON field of type code k as a date (ms: its milliseconds since 1970 when k is 9, a date);
-- null for another type and for a date no timestamp can hold (what ejson_date makes of the
-- Extended JSON mongoexport writes for either).
create or replace macro bson_date(k, ms) as
case when k = 9 then try(epoch_ms(ms)) end
