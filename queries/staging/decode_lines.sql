-- Raw lines as text (reads `undecoded`: line, bytes), null where a line is not UTF-8: only used
-- when a batch has such a line (the cast in Python is faster when every line is).
select try(decode(line)) as text
from undecoded
