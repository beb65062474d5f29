-- The mapped fields of each line of a JSON-lines session log (`log_lines`: line_no, line), as
-- text; $paths holds the JSON path of the log's key for userId, loginAt, lastActivityAt,
-- closedAt, role, device and _id, in that order. Blank lines are not rows.
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
        v[1] as userId,
        v[2] as loginAt,
        v[3] as lastActivityAt,
        v[4] as closedAt,
        v[5] as role,
        v[6] as device,
        v[7] as _id
    from parsed
)

select * from final
