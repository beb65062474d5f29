-- True when a timestamp lies in years 0001..9999, the dates every reader of the lake (Python,
-- JavaScript's toISOString, Rocket.Chat) can represent; a date outside them is the document's reject.
create or replace macro in_calendar(ts) as
ts between timestamp '0001-01-01 00:00:00' and timestamp '9999-12-31 23:59:59.999999'
