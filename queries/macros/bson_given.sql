-- Whether a BSON field of type code k is given: true, or null when absent (0) or null (10), as
-- mongoexport leaves out the one and writes null for the other, which an export's reader reads alike.
create or replace macro bson_given(k) as
case when k <> 0 and k <> 10 then true end
