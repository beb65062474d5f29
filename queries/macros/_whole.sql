-- A double that holds a whole number, as bigint; null for fractions and non-finite values.
create or replace macro whole(d) as
case when isfinite(d) and d = trunc(d) then try_cast(d as bigint) end
