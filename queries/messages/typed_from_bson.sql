-- The fields a rocketchat_message document of a mongodump is kept for (`bson_rows`, from
-- pipelines/inputs/message_bson.py: per field its BSON type code k_*, and its value as s_* text,
-- i_* date milliseconds, oid_* an ObjectId's hex), typed as messages/typed_from_json.sql types the
-- Extended JSON a mongoexport writes for the same document.
-- Type codes: 2 string, 3 document, 7 ObjectId, 9 date, 10 null.
select
    line_no,
    false as bad_utf8,
    true as is_json,
    true as is_object,
    known_reason,
    coalesce(bson_given(k__id), false) as has_id,
    case k__id when 2 then s__id when 7 then oid__id end as _id,
    coalesce(bson_given(k_rid), false) as has_rid,
    case when k_rid = 2 then s_rid end as rid,
    coalesce(bson_given(k_ts), false) as has_ts,
    bson_date(k_ts, i_ts) as ts,
    coalesce(bson_given(k_t), false) as has_t,
    coalesce(bson_given(k_u), false) as has_u,
    case when k_u_id = 2 then s_u_id end as sender,
    k_u = 3 as u_is_document
from bson_rows
