-- Why a document cannot be read at all, whatever its collection: what its reader already found
-- (known_reason), not UTF-8, not JSON, not an object, no _id (raw_id: the field's JSON text) or an
-- _id of another type (id: the typed value); null when it can be read. The first reasons of every
-- judging query (staging/documents.sql, registrations/*_documents.sql), in this order.
create or replace macro unreadable_reason(known_reason, bad_utf8, is_json, is_object, raw_id, id) as
case
    when known_reason is not null then known_reason
    when bad_utf8 then 'bad_utf8'
    when not is_json then 'bad_json'
    when not is_object then 'not_an_object'
    when raw_id is null then 'no_id'
    when id is null then 'wrong_type:_id'
end
