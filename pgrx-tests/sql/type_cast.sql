-- Casts among vector, halfvec, sparsevec and arrays, in every direction pgvector has, and
-- which of them are implicit / assignment / explicit (pg_cast); expected output from pgvector.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vecmap;
RESET client_min_messages;
\set SHOW_CONTEXT never

SELECT castsource::regtype, casttarget::regtype, castcontext
FROM pg_cast WHERE castsource::regtype::text IN ('vector', 'halfvec', 'sparsevec')
   OR casttarget::regtype::text IN ('vector', 'halfvec', 'sparsevec')
ORDER BY castsource::regtype::text, casttarget::regtype::text;

-- round trips through every type
SELECT '[1.5,0,-2]'::vector::halfvec::sparsevec::vector;
SELECT '{1:1.5,3:-2}/3'::sparsevec::halfvec::vector::sparsevec;
SELECT '[1.1,0,3]'::vector::sparsevec::halfvec;
SELECT '[1.1,0,3]'::halfvec::vector::real[];
SELECT '{2:1.1}/3'::sparsevec::vector::real[]::halfvec::sparsevec;
SELECT ARRAY[0,1.5,0]::numeric[]::sparsevec::halfvec::vector;
-- typmods carried through
SELECT '[1,2,3]'::vector::halfvec(3)::sparsevec(3)::vector(3);
SELECT '[1,2,3]'::vector::halfvec(2);
SELECT '{1:1}/3'::sparsevec::halfvec(2);
SELECT '[1,2,3]'::halfvec::sparsevec(4);
-- implicit and assignment casts in expressions and inserts
CREATE TABLE mixed (v vector(3), h halfvec(3), s sparsevec(3));
INSERT INTO mixed VALUES ('[1,0,2]', '[1,0,2]', '{1:1,3:2}/3');
INSERT INTO mixed VALUES ('[1,0,2]'::halfvec, '[3,0,4]'::vector, '[0,5,0]'::vector);
INSERT INTO mixed VALUES ('{2:7}/3'::sparsevec, '{2:7}/3'::sparsevec, '[0,0,9]'::halfvec);
INSERT INTO mixed VALUES (ARRAY[1,2,3], ARRAY[1.5,2,3], ARRAY[0,0,1.25]);
SELECT * FROM mixed;
SELECT h <-> '[0,0,0]'::vector AS h_vs_vector, s <=> '[1,1,1]'::vector AS s_vs_vector FROM mixed;
SELECT v <-> h FROM mixed;
DROP TABLE mixed;
-- vector[] / halfvec[] / sparsevec[] columns
SELECT ARRAY['[1,2]'::vector, '[3,4]'];
SELECT ARRAY['[1,2]'::halfvec, '[3,4]'];
SELECT ARRAY['{1:1}/2'::sparsevec, '{}/2'];
SELECT ('{"[1,2]","[3,4]"}'::halfvec[])[2];
SELECT ('{"{1:1}/2","{}/2"}'::sparsevec[])[1];
SELECT array_length('{"[1,2]","[3,4]","[5,6]"}'::vector(2)[], 1);
