-- A BSON number field (type code k; integer i, double d) as a whole number, as ejson_int reads the
-- JSON mongoexport writes for it (an integer goes through a double there too); null for another
-- type, a fraction, or a value out of bigint's range.
create or replace macro bson_int(k, i, d) as
case
    when k = 16 or k = 18 then whole(i::double)
    when k = 1 then whole(d)
end
