-- A log's timestamp text as a UTC timestamp: ISO 8601 (with Z or an offset, else in zone tz),
-- seconds or milliseconds since the epoch, or a strptime format read in zone tz.
create or replace macro log_timestamp(v, fmt, tz) as
case
    when v is null or trim(v) = '' then null
    when fmt = 'epoch_s' then try(to_timestamp(try_cast(v as double)))::timestamp
    when fmt = 'epoch_ms' then try(epoch_ms(try_cast(try_cast(v as double) as bigint)))
    when fmt = 'iso' and regexp_matches(trim(v), '(Z|z|[+-][0-9]{2}:?[0-9]{2})$')
        then timezone('UTC', try_cast(trim(v) as timestamptz))
    when fmt = 'iso' then timezone('UTC', timezone(tz, try_cast(trim(v) as timestamp)))
    else timezone('UTC', timezone(tz, try_strptime(trim(v), fmt)))
end
