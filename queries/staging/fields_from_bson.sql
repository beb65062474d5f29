-- The fields of each document of a mongodump (`bson_rows`, from pipelines/bson_reader.py: per
-- field its BSON type code k_*, and its value as s_* text, i_* integer or date milliseconds,
-- d_* double), written as the Extended JSON a mongoexport would hold, so that
-- staging/documents.sql applies every rule to dumps as to exports. A value of a type the field
-- cannot have is written as JSON of another kind, which documents.sql then rejects as such.
-- Type codes: 1 double, 2 string, 3 document, 7 ObjectId, 9 date, 10 null, 16 int32, 18 int64.
with

final as (
    select
        line_no,
        false as bad_utf8,
        true as is_json,
        true as is_object,
        known_reason,
        {
            '_id': case k__id
                when 0 then null
                when 10 then null
                when 2 then to_json(s__id)
                when 7 then json_object('$oid', oid__id)
                else '0'::json
            end,
            'type': bson_string(k_type, s_type),
            'userId': bson_string(k_userId, s_userId),
            'device': case k_device
                when 0 then null
                when 10 then null
                when 3 then json(device_json)
                else '0'::json
            end,
            'loginAt': bson_date(k_loginAt, i_loginAt),
            'lastActivityAt': bson_date(k_lastActivityAt, i_lastActivityAt),
            'closedAt': bson_date(k_closedAt, i_closedAt),
            '_updatedAt': bson_date(k__updatedAt, i__updatedAt),
            'mostImportantRole': bson_string(k_mostImportantRole, s_mostImportantRole),
            'year': bson_number(k_year, i_year, d_year),
            'month': bson_number(k_month, i_month, d_month),
            'day': bson_number(k_day, i_day, d_day)
        } as f
    from bson_rows
)

select * from final
