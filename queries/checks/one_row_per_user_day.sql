-- Rows that break "one active user-day per (userId, date)" in the user_daily partitions ($files),
-- or that sit in a partition of another date. Zero rows pass.
with

user_days as (
    select
        date,
        userId,
        filename
    from read_parquet($files, filename = true)
),

final as (
    select
        date,
        userId,
        count(*) as copies,
        count(distinct filename) as files
    from user_days
    group by
        date,
        userId
    having count(*) > 1
        or bool_or(not contains(filename, 'date=' || strftime(date, '%Y-%m-%d') || '/'))
)

select * from final
