-- The incoming versions that replace what the lake holds: newer, or as new (the one ingested last
-- wins a tie, and re-ingesting the same document leaves the same bytes). Reads `latest_incoming`
-- (intermediate/latest_incoming.sql) and `stored_versions` (intermediate/stored_versions.sql).
with

joined as (
    select
        i.*,
        s._updatedAt as stored_updated_at,
        s._id is not null as is_stored
    from latest_incoming as i
    left join stored_versions as s
        on i._id = s._id
),

final as (
    select * exclude (stored_updated_at, is_stored)
    from joined
    where not is_stored
        or stored_updated_at is null
        or _updatedAt >= stored_updated_at
)

select * from final
