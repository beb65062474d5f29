-- The fields of each document in `raw_lines` (line_no, text, is_json, known_reason), registered
-- by the caller from a file split into lines (or a BSON dump read document by document): the
-- careful path, which knows every line's number. known_reason is a reject the reader already
-- found (a BSON document that does not decode).
with

documents as (
    select
        line_no,
        text is null as bad_utf8,
        is_json,
        known_reason,
        -- a valid JSON text that starts with a brace is an object: no second parse to ask
        is_json and (ascii(text) = 123 or starts_with(ltrim(text), '{')) as is_object,
        text
    from raw_lines
    -- blank lines are not documents; a line keeps its newline, so trim that too
    -- (ascii() spares trimming every line)
    where text is null
        or ascii(text) > 32
        or trim(text, ' ' || chr(9) || chr(10) || chr(13)) <> ''
),

final as (
    select
        line_no,
        bad_utf8,
        is_json,
        is_object,
        known_reason,
        -- $structure: each stored field as its JSON text (pipelines/fields.py: JSON_COLUMNS)
        case when is_object then from_json(text, $structure) end as f
    from documents
)

select * from final
