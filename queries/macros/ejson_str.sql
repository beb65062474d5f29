-- A JSON string's value; null when absent or of another type.
create or replace macro ejson_str(v) as
case when starts_with(v, '"') then json_extract_string(v, '$') end
