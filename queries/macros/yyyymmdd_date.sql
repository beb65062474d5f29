-- Rocket.Chat's integer dates (yyyyMMdd, as convertDateToInt writes them) as the date they name, or
-- null when they name none of years 0001..9999 (20230230, 123): an analytics document's date.
create or replace macro yyyymmdd_date(d) as
case
    when d between 10101 and 99991231
        then try(make_date((d // 10000)::integer, (d // 100 % 100)::integer, (d % 100)::integer))
end
