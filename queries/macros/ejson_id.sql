-- A document _id: a plain string, or the hex of an ObjectId ({"$oid": "..."}).
create or replace macro ejson_id(v) as
case
    when starts_with(v, '"') then json_extract_string(v, '$')
    when starts_with(v, '{') and json_type(v, '$."$oid"') = 'VARCHAR' then json_extract_string(v, '$."$oid"')
end
