-- The stored fields of each document of the relation `fields` (staging/fields_from_*.sql: line_no,
-- bad_utf8, is_json, is_object, known_reason, and f, the document's fields as JSON text), typed:
-- a value of another type than the field's comes out null, and f tells it from an absent one.
-- What staging/documents.sql judges (staging/typed_from_bson.sql gives the same for a mongodump).
with

final as (
    select
        line_no,
        bad_utf8,
        is_json,
        is_object,
        known_reason,
        f,
        ejson_id(f._id) as _id,
        ejson_str(f.type) as type,
        ejson_str(f.userId) as userId,
        ejson_date(f.loginAt) as loginAt,
        ejson_date(f.lastActivityAt) as lastActivityAt,
        ejson_date(f.closedAt) as closedAt,
        ejson_date(f._updatedAt) as _updatedAt,
        -- kept as its minified JSON text: Rocket.Chat groups sessions by the whole device object
        case when ejson_document(f.device) then f.device::varchar end as device,
        ejson_str(f.mostImportantRole) as mostImportantRole,
        ejson_int(f.year) as year,
        ejson_int(f.month) as month,
        ejson_int(f.day) as day
    from fields
)

select * from final
