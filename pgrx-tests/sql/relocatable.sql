-- The extension is relocatable: it installs into any schema, works beside another type named
-- `vector` (as pgvector's would be, here a domain in public), and moves with SET SCHEMA.
-- Runs in its own database so the other tests keep vecmap in public.
SELECT current_database() AS regress_db \gset
CREATE DATABASE vecmap_relocatable;
\c vecmap_relocatable
CREATE DOMAIN public.vector AS text;
CREATE SCHEMA vecmap;
CREATE EXTENSION vecmap SCHEMA vecmap;
SELECT extname, extnamespace::regnamespace, extrelocatable FROM pg_extension WHERE extname = 'vecmap';
-- every member object that has a schema (all but casts and access methods) lives in the chosen one
CREATE FUNCTION pg_temp.member_schemas() RETURNS SETOF text LANGUAGE sql AS $$
    SELECT DISTINCT o.schema
    FROM pg_depend, pg_identify_object(classid, objid, objsubid) o
    WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
      AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'vecmap') AND o.schema IS NOT NULL
$$;
SELECT * FROM pg_temp.member_schemas();

-- with the default search_path, `vector` is the other type
SELECT pg_typeof('[1,2,3]'::vector)::oid = 'public.vector'::regtype::oid AS is_public_vector;
SELECT '[1,2,3]'::vector;

-- ours, schema-qualified
SELECT '[1,2,3]'::vecmap.vector, '[1,2,3]'::vecmap.vector(3);
SELECT '[1,2]'::vecmap.vector(3);
SELECT '[0,0]'::vecmap.vector OPERATOR(vecmap.<->) '[3,4]', vecmap.l2_distance('[0,0]'::vecmap.vector, '[3,4]');
SELECT '[1,2]'::vecmap.vector OPERATOR(vecmap.<#>) '[3,4]', '[1,2]'::vecmap.vector OPERATOR(vecmap.<=>) '[2,4]',
       '[0,0]'::vecmap.vector OPERATOR(vecmap.<+>) '[3,4]';
SELECT '[1,2]'::vecmap.vector OPERATOR(vecmap.+) '[3,4]', '[1,2]'::vecmap.vector OPERATOR(vecmap.||) '[3]';
SELECT vecmap.avg(v), vecmap.sum(v) FROM (VALUES ('[1,2]'::vecmap.vector), ('[3,4]')) t(v);
SELECT ARRAY[1,2,3]::vecmap.vector, '[1,2]'::vecmap.vector::real[], vecmap.vector_dims('[1,2]'::vecmap.vector);

CREATE TABLE items (id int, v vecmap.vector(3), other public.vector);
INSERT INTO items VALUES (1, '[1,2,3]', 'x'), (2, '[1,1,1]', 'y'), (3, ARRAY[0,0,1], 'z');
INSERT INTO items VALUES (4, '[1,2]', 'w');
SELECT id, v, other FROM items ORDER BY v OPERATOR(vecmap.<->) '[1,1,1]', id;
CREATE INDEX ON items (v);
SELECT id FROM items WHERE v OPERATOR(vecmap.=) '[1,1,1]';
SELECT id FROM items ORDER BY v, id;

-- with the extension's schema on the search_path (after public) its operators resolve unqualified
SET search_path = public, vecmap;
SELECT id, v <-> '[1,1,1]' AS l2 FROM items ORDER BY v <-> '[1,1,1]', id;
RESET search_path;

-- ALTER EXTENSION ... SET SCHEMA moves everything; existing columns follow the type
CREATE SCHEMA moved;
ALTER EXTENSION vecmap SET SCHEMA moved;
SELECT * FROM pg_temp.member_schemas();
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'v';
SELECT id, v, moved.vector_dims(v), v OPERATOR(moved.<=>) '[1,1,1]' AS cos FROM items ORDER BY id;
SELECT '[1,2,3]'::moved.vector(3);

SET client_min_messages = warning;
DROP EXTENSION vecmap CASCADE;
RESET client_min_messages;
SELECT attname FROM pg_attribute WHERE attrelid = 'items'::regclass AND attnum > 0 AND NOT attisdropped;
\c :regress_db
DROP DATABASE vecmap_relocatable;
