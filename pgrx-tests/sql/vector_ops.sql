-- Arithmetic, concatenation, comparison operators and the btree operator class.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vecmap;
RESET client_min_messages;
CREATE FUNCTION pg_temp.sqlstate(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;

-- + - * element-wise, with overflow/underflow errors like float4 arithmetic
SELECT '[1,2,3]'::vector + '[4,5,6]';
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[1,2]'::vector + '[3]';
SELECT '[1,2,3]'::vector - '[4,5,6]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1,2]'::vector - '[3]';
SELECT '[1,2,3]'::vector * '[4,5,6]';
SELECT '[1e37]'::vector * '[1e37]';
SELECT '[1e-37]'::vector * '[1e-37]';
SELECT '[0,1e-37]'::vector * '[1e-37,0]';
SELECT '[1,2]'::vector * '[3]';
SELECT '[0.1,0.2]'::vector + '[0.2,0.1]';
SELECT '[-0]'::vector + '[-0]', '[0]'::vector - '[0]';

-- || concatenation, up to 16000 dimensions
SELECT '[1,2,3]'::vector || '[4,5]';
SELECT vector_dims(array_fill(0, ARRAY[15999])::vector || '[1]');
SELECT array_fill(0, ARRAY[16000])::vector || '[1]';

-- SQLSTATEs: 22000 dimension mismatch, 22003 overflow/underflow, 54000 too long
SELECT q AS query, pg_temp.sqlstate(q) AS sqlstate FROM (VALUES
    ($$SELECT '[1,2]'::vector + '[3]'$$),
    ($$SELECT '[1,2]'::vector <-> '[3]'$$),
    ($$SELECT '[3e38]'::vector + '[3e38]'$$),
    ($$SELECT '[1e-37]'::vector * '[1e-37]'$$),
    ($$SELECT array_fill(0, ARRAY[16000])::vector || '[1]'$$)
) v(q);

-- comparisons: element by element, then the shorter vector first
SELECT '[1,2,3]'::vector < '[1,2,3]', '[1,2,3]'::vector < '[1,2]', '[1,2]'::vector < '[1,2,3]';
SELECT '[1,2,3]'::vector <= '[1,2,3]', '[1,2,3]'::vector <= '[1,2]';
SELECT '[1,2,3]'::vector = '[1,2,3]', '[1,2,3]'::vector = '[1,2]', '[-0]'::vector = '[0]';
SELECT '[1,2,3]'::vector != '[1,2,3]', '[1,2,3]'::vector <> '[1,2]';
SELECT '[1,2,3]'::vector >= '[1,2,3]', '[1,2,3]'::vector >= '[1,2]';
SELECT '[1,2,3]'::vector > '[1,2,3]', '[1,2,3]'::vector > '[1,2]';
SELECT vector_cmp('[1,2,3]', '[1,2,3]');
SELECT vector_cmp('[1,2,3]', '[0,0,0]');
SELECT vector_cmp('[0,0,0]', '[1,2,3]');
SELECT vector_cmp('[1,2]', '[1,2,3]');
SELECT vector_cmp('[1,2,3]', '[1,2]');
SELECT vector_cmp('[1,2]', '[2,3,4]');
SELECT vector_cmp('[2,3]', '[1,2,3]');
SELECT NULL::vector = '[1]', '[1]'::vector < NULL;

-- ORDER BY, DISTINCT, GROUP BY, IN, btree index scans
CREATE TABLE vops (id int, v vector);
INSERT INTO vops VALUES (1, '[0,0,0]'), (2, '[1,2,3]'), (3, '[1,1,1]'), (4, NULL), (5, '[1,2]'),
    (6, '[1,2,3]'), (7, '[-1,5]'), (8, '[1,2,3,0]');
SELECT v FROM vops ORDER BY v, id;
SELECT v FROM vops ORDER BY v DESC NULLS LAST, id;
SELECT DISTINCT v FROM vops ORDER BY v;
SELECT v, count(*) FROM vops GROUP BY v ORDER BY v;
SELECT id FROM vops WHERE v IN ('[1,2,3]', '[1,2]') ORDER BY id;
SELECT min(v), max(v) FROM vops;
CREATE INDEX vops_v ON vops (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM vops WHERE v = '[1,2,3]';
SELECT id FROM vops WHERE v = '[1,2,3]' ORDER BY id;
SELECT id FROM vops WHERE v > '[1,1,1]' ORDER BY v, id;
SELECT v FROM vops ORDER BY v;
RESET enable_seqscan;
-- a unique btree index uses the same equality
CREATE UNIQUE INDEX vops_u ON vops (id, v);
INSERT INTO vops VALUES (2, '[1,2,3]');
DROP TABLE vops;

-- operator catalog: pgvector's names, commutators and negators
SELECT oprname, oprleft::regtype, oprright::regtype, oprresult::regtype, oprcode,
       oprcom::regoperator AS commutator, oprnegate::regoperator AS negator
FROM pg_operator WHERE oprleft = 'vector'::regtype ORDER BY oprname;
SELECT amname, opcname, opcdefault FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE opcintype = 'vector'::regtype AND amname = 'btree';
