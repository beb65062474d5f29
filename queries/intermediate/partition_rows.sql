-- The new content of one sessions partition ($date): its stored rows ($files: the day's current
-- file, or an empty file of the same columns when the day is new) that no accepted version
-- replaces, plus the accepted versions of that date. Reads `accepted` (intermediate/accepted.sql)
-- and `replaced` (intermediate/replaced.sql: the _ids, and dates, whose stored version lost).
with

kept as (
    select *
    from read_parquet($files)
    where _id not in (
        select _id
        from replaced
        where date = $date
    )
),

arrived as (
    select * exclude (file_index, line_no, reject_reason)
    from accepted
    where date = $date
),

final as (
    select * from kept
    union all by name
    select * from arrived
)

-- unordered: the writer sorts the day by _id (cheaper in Arrow than in a DuckDB sort this small)
select * from final
