-- A whole number written plainly (2023, 2023.0) or as Extended JSON ({"$numberInt": "2023"},
-- {"$numberLong": "2023"}, {"$numberDouble": "2023.0"}); null when absent or not a whole number.
create or replace macro ejson_int(v) as
case
    when starts_with(v, '{') then coalesce(
        try_cast(json_extract_string(v, '$."$numberInt"') as bigint),
        try_cast(json_extract_string(v, '$."$numberLong"') as bigint),
        whole(try_cast(json_extract_string(v, '$."$numberDouble"') as double))
    )
    -- v is minified JSON text: a number parses as a double, a string ("2023") does not
    else whole(try_cast(v::varchar as double))
end
