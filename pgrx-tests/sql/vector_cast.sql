-- Casts: integer[], real[], double precision[], numeric[] -> vector (assignment), vector -> real[]
-- (implicit), vector -> vector(n) (typmod).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vecmap;
RESET client_min_messages;
\set SHOW_CONTEXT never

SELECT ARRAY[1,2,3]::vector;
SELECT ARRAY[1.0,2.0,3.0]::vector;
SELECT ARRAY[1,2,3]::real[]::vector;
SELECT ARRAY[1,2,3]::double precision[]::vector;
SELECT ARRAY[1,2,3]::numeric[]::vector;
SELECT '{1,2,3}'::real[]::vector;
SELECT '{1,2,3}'::real[]::vector(3);
SELECT '{1,2,3}'::real[]::vector(2);
SELECT '{NULL}'::real[]::vector;
SELECT '{1,NULL,3}'::integer[]::vector;
SELECT '{NaN}'::real[]::vector;
SELECT '{Infinity}'::real[]::vector;
SELECT '{-Infinity}'::real[]::vector;
SELECT '{}'::real[]::vector;
SELECT '{{1}}'::real[]::vector;
SELECT '{{1,2},{3,4}}'::integer[]::vector;
SELECT '{1,2,3}'::double precision[]::vector;
SELECT '{1,2,3}'::double precision[]::vector(3);
SELECT '{1,2,3}'::double precision[]::vector(2);
SELECT '{4e38,-4e38}'::double precision[]::vector;
SELECT '{1e-46,-1e-46}'::double precision[]::vector;
SELECT '{0.1,0.30000000000000004}'::double precision[]::vector;
SELECT '{2147483647,-2147483648}'::integer[]::vector;
SELECT '{1e39}'::numeric[]::vector;
SELECT '{NaN}'::numeric[]::vector;
SELECT '{0.1,1.5,-7}'::numeric[]::vector;
SELECT '[1:3]={1,2,3}'::integer[]::vector;
SELECT ARRAY['1']::text[]::vector;
SELECT '{1,2}'::bigint[]::vector;

-- vector -> real[]
SELECT '[1,2,3]'::vector::real[];
SELECT '[-0,1e-45,3.4028235e38]'::vector::real[];
SELECT array_dims('[1,2,3]'::vector::real[]), array_lower('[1,2,3]'::vector::real[], 1);
SELECT ('[1,2,3]'::vector::real[])[2];
SELECT '[1,2,3]'::vector::real[]::vector;
SELECT '[1.5,2.5]'::vector::double precision[];
SELECT '[1,2]'::vector::real[] = '{1,2}'::real[];

-- vector -> vector(n)
SELECT '[1,2,3]'::vector::vector(3);
SELECT '[1,2,3]'::vector::vector(2);

-- the cast context: arrays assign to a vector column; vector assigns to real[]; text needs a cast
CREATE TABLE vcast (v vector(3), a real[]);
INSERT INTO vcast (v) VALUES (ARRAY[1,2,3]), (ARRAY[1.5,2.5,3.5]), ('{4,5,6}'::double precision[]);
INSERT INTO vcast (v) VALUES (ARRAY[1,2]);
INSERT INTO vcast (a) VALUES ('[7,8,9]'::vector);
SELECT * FROM vcast;
SELECT '[1,2,3]'::vector = ARRAY[1,2,3]::vector;
DROP TABLE vcast;

-- max dimensions / elements
SELECT vector_dims(array_agg(n)::vector) FROM generate_series(1, 16000) n;
SELECT array_agg(n)::vector FROM generate_series(1, 16001) n;
SELECT array_to_vector(array_agg(n), 16001, false) FROM generate_series(1, 16001) n;
SELECT array_to_vector(ARRAY[1,2,3], 3, true), array_to_vector('{1,2}'::real[], -1, false);

-- the cast catalog: pgvector's contexts
SELECT castsource::regtype, casttarget::regtype, castfunc::regprocedure, castcontext, castmethod
FROM pg_cast WHERE castsource = 'vector'::regtype OR casttarget = 'vector'::regtype ORDER BY castsource::regtype::text, casttarget::regtype::text;
