-- The first and last dates (integers yyyyMMdd) of the "messages" analytics documents ($messages):
-- where the analytics' span begins, and the last day it surely covers (pipelines/metrics/
-- messages.py's analytics_span reaches further, to the day before a message the live counter
-- would have counted and no document holds).
select min(date) as first, max(date) as last
from read_parquet($messages)
