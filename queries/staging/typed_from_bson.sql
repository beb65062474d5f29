-- The stored fields of each document of a mongodump (`bson_rows`, from pipelines/inputs/bson_reader.py:
-- per field its BSON type code k_*, and its value as s_* text, i_* integer or date milliseconds,
-- d_* double, oid_* an ObjectId's hex, *_json a subdocument's Extended JSON), typed straight from
-- BSON into what staging/typed_from_json.sql makes of the Extended JSON a mongoexport writes for
-- the same document, so staging/documents.sql judges a dump as it judges an export (tests:
-- test_bson.py compares the two on generated documents of every type).
-- f holds, per field, true when the document has it (not absent, not null), so documents.sql
-- tells a value of another type (typed null, f true) from an absent one (both null).
-- Type codes: 1 double, 2 string, 3 document, 7 ObjectId, 9 date, 10 null, 16 int32, 18 int64.
with

-- a device minified once, as an export's device is
minified as (
    select
        *,
        case when k_device = 3 then json(device_json)::varchar end as device_text
    from bson_rows
),

final as (
    select
        line_no,
        false as bad_utf8,
        true as is_json,
        true as is_object,
        known_reason,
        {
            '_id': bson_given(k__id),
            'type': bson_given(k_type),
            'userId': bson_given(k_userId),
            'device': bson_given(k_device),
            'loginAt': bson_given(k_loginAt),
            'lastActivityAt': bson_given(k_lastActivityAt),
            'closedAt': bson_given(k_closedAt),
            '_updatedAt': bson_given(k__updatedAt),
            'mostImportantRole': bson_given(k_mostImportantRole),
            'year': bson_given(k_year),
            'month': bson_given(k_month),
            'day': bson_given(k_day)
        } as f,
        case k__id when 2 then s__id when 7 then oid__id end as _id,
        case when k_type = 2 then s_type end as type,
        case when k_userId = 2 then s_userId end as userId,
        bson_date(k_loginAt, i_loginAt) as loginAt,
        bson_date(k_lastActivityAt, i_lastActivityAt) as lastActivityAt,
        bson_date(k_closedAt, i_closedAt) as closedAt,
        bson_date(k__updatedAt, i__updatedAt) as _updatedAt,
        -- a subdocument an export could not tell from another type's Extended JSON (its first
        -- key "$oid", say) is not taken for one here either
        case when ejson_document(device_text) then device_text end as device,
        case when k_mostImportantRole = 2 then s_mostImportantRole end as mostImportantRole,
        bson_int(k_year, i_year, d_year) as year,
        bson_int(k_month, i_month, d_month) as month,
        bson_int(k_day, i_day, d_day) as day
    from minified
)

select * from final
