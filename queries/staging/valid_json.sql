-- Whether each line is one JSON text (reads `unchecked`: text; a null text is not JSON).
select coalesce(json_valid(text), false) as is_json
from unchecked
