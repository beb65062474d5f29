-- A JSON string's value; null when absent or of another type. A string without escapes is read
-- by slicing off its quotes, the rest by the JSON parser.
create or replace macro ejson_str(v) as
case
    when not starts_with(v, '"') then null
    when contains(v, '\') then json_extract_string(v, '$')
    else v[2:-2]
end
