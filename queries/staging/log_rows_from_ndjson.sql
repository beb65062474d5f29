-- The mapped fields of each line of a JSON-lines session log (`log_lines`: line_no, line), as
-- text: v holds, per JSON pointer of $paths (one per mapped field, in pipelines/fields.py's
-- LOG_COLUMNS order), that key's value as text, null where absent. Blank lines are not rows.
with

parsed as (
    select
        line_no,
        try(json_extract_string(decode(line), $paths)) as v
    from log_lines
    where trim(try(decode(line)), ' ' || chr(9) || chr(10) || chr(13)) <> ''
),

final as (
    select
        line_no,
        v
    from parsed
)

select * from final
