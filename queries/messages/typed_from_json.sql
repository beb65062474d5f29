-- The fields a rocketchat_message document is kept for, typed from the view `fields` (staging/
-- fields_from_file.sql or fields_from_lines.sql with pipelines/ingest/messages.py's structure: line_no,
-- bad_utf8, is_json, is_object, known_reason, and f, each field as its JSON text). Only _id, rid, ts,
-- t and u are in f: the text, attachments and reactions are never read. has_* say the document has
-- the field (not absent, not null: a JSON reader tells those apart no more than mongoexport's
-- readers do); messages/typed_from_bson.sql gives the same for a mongodump.
select
    line_no,
    bad_utf8,
    is_json,
    is_object,
    known_reason,
    f._id is not null as has_id,
    ejson_id(f._id) as _id,
    f.rid is not null as has_rid,
    ejson_str(f.rid) as rid,
    f.ts is not null as has_ts,
    ejson_date(f.ts) as ts,
    f.t is not null as has_t,
    f.u is not null as has_u,
    case when starts_with(f.u, '{') then try(json_extract_string(f.u, '$._id')) end as sender,
    starts_with(f.u, '{') as u_is_document
from fields
