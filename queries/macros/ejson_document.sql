-- Whether a field's minified JSON text is a document: an object, but not the Extended JSON a
-- mongoexport writes for a value of another BSON type ({"$oid": ...}, {"$date": ...},
-- {"$numberLong": ...}, ...), which a document's first key cannot be.
create or replace macro ejson_document(v) as
case
    when not starts_with(v, '{') then false
    when not starts_with(v, '{"$') then true
    else not regexp_matches(
        v,
        '^\{"\$(oid|date|numberInt|numberLong|numberDouble|numberDecimal|binary|uuid|timestamp'
        || '|regularExpression|regex|options|symbol|code|scope|minKey|maxKey|undefined|dbPointer|ref)"'
    )
end
