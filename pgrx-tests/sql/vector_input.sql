-- Text input and output of vector, typmods (pgvector's behaviour and messages).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vecmap;
RESET client_min_messages;
-- SQLSTATE of a statement, or 'ok'.
CREATE FUNCTION pg_temp.sqlstate(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;

-- valid input, whitespace anywhere between tokens
SELECT '[1,2,3]'::vector;
SELECT '[-1,-2,-3]'::vector;
SELECT '[1.,2.,3.]'::vector;
SELECT ' [ 1,  2 ,    3  ] '::vector;
SELECT E'\t[\n1,\r2\f,\x0b3]\n'::vector;
SELECT '[+1.5,-.5,1e2,1E-2]'::vector;
SELECT '[1.23456]'::vector;
SELECT '[0.1,0.2,0.3]'::vector;

-- output: shortest round-trip digits, fixed notation for exponents in [-4, 6)
SELECT '[1e-7, 123456789, 0.1]'::vector;
SELECT '[0.0001,0.00001,100000,999999,1000000,1234567]'::vector;
SELECT '[3.4028235e38,-3.4028235e38,1.1754944e-38,1e-45]'::vector;
SELECT '[0.3333333333333333,2.718281828459045,3.141592653589793]'::vector;
SELECT '[-0,0]'::vector;
SELECT '[1.5e38,-1.5e38]'::vector;
SELECT '[1.5e+38,-1.5e+38]'::vector;
SELECT '[1.5e-38,-1.5e-38]'::vector;

-- numbers are read with C strtof, like float4in: hex floats, "inf"/"nan" spellings
SELECT '[0x10,0x1p-2,.5,5.,-.5e1,+2]'::vector;
SELECT '[infinity]'::vector;
SELECT '[-inf]'::vector;
SELECT '[nan]'::vector;
SELECT '[1_000]'::vector;
SELECT '[1e]'::vector;
SELECT '[１]'::vector;

-- underflow rounds to (signed) zero, as strtof does
SELECT '[1e-46,1]'::vector;
SELECT '[-1e-46,1]'::vector;

-- rejected input
SELECT '[hello,1]'::vector;
SELECT '[NaN,1]'::vector;
SELECT '[Infinity,1]'::vector;
SELECT '[-Infinity,1]'::vector;
SELECT '[4e38,1]'::vector;
SELECT '[-4e38,1]'::vector;
SELECT '[1e39]'::vector;
SELECT '[1,2,3'::vector;
SELECT '[1,2,3]9'::vector;
SELECT '[1,2,3] ]'::vector;
SELECT '1,2,3'::vector;
SELECT ''::vector;
SELECT '['::vector;
SELECT '[ '::vector;
SELECT '[,'::vector;
SELECT '[]'::vector;
SELECT '[ ]'::vector;
SELECT '[,]'::vector;
SELECT '[1,]'::vector;
SELECT '[1a]'::vector;
SELECT '[1 2]'::vector;
SELECT '[1,,3]'::vector;
SELECT '[1, ,3]'::vector;
SELECT '{1,2,3}'::vector;

-- SQLSTATEs: 22P02 syntax, 22003 out of range, 22000 NaN/Inf/empty, 54000 too many
SELECT q AS query, pg_temp.sqlstate(q) AS sqlstate FROM (VALUES
    ($$SELECT '[hello,1]'::vector$$),
    ($$SELECT '[1,2,3'::vector$$),
    ($$SELECT '[1,2,3]9'::vector$$),
    ($$SELECT '1,2,3'::vector$$),
    ($$SELECT ''::vector$$),
    ($$SELECT '[1,]'::vector$$),
    ($$SELECT '[1e39]'::vector$$),
    ($$SELECT '[-1e39]'::vector$$),
    ($$SELECT '[NaN]'::vector$$),
    ($$SELECT '[inf]'::vector$$),
    ($$SELECT '[]'::vector$$),
    ($$SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::vector$$),
    ($$SELECT '[1,2,3]'::vector(2)$$),
    ($$SELECT '[1,2,3]'::vector(0)$$),
    ($$SELECT '[1,2,3]'::vector(3, 2)$$)
) v(q);

-- dimension limits: 16000 is the maximum
SELECT vector_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::vector);
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::vector;

-- typmod
SELECT '[1,2,3]'::vector(3);
SELECT '[1,2,3]'::vector(2);
SELECT '[1,2,3]'::vector(3, 2);
SELECT '[1,2,3]'::vector('a');
SELECT '[1,2,3]'::vector(0);
SELECT '[1,2,3]'::vector(16001);
SELECT '[1]'::vector(16000);
SELECT format_type('vector'::regtype, 3), format_type('vector'::regtype, -1);
SELECT unnest('{"[1,2,3]", "[4,5,6]"}'::vector[]);
SELECT '{"[1,2,3]"}'::vector(2)[];

-- typmod is enforced on insert, update and casts
CREATE TABLE vin (v vector(3));
INSERT INTO vin VALUES ('[1,2,3]');
INSERT INTO vin VALUES ('[1,2]');
INSERT INTO vin VALUES ('[1,2,3]'::vector);
INSERT INTO vin VALUES ('[1,2]'::vector);
UPDATE vin SET v = '[1,2,3,4]'::vector;
SELECT '[1,2]'::vector::vector(3);
SELECT '[1,2,3]'::vector::vector(3);
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'vin'::regclass AND attnum > 0;
SELECT * FROM vin;
DROP TABLE vin;

-- NULL handling
SELECT NULL::vector, NULL::vector(3);

-- printed text parses back to the same value for many floats, and prints exactly like
-- real[] (Postgres' float4out): every exponent of float4, both signs, subnormals
WITH x AS (
    SELECT i, ((((i::bigint * 2654435761) % 4294967296) / 4294967296.0 + 1)
               * power(2::float8, (i % 277) - 150)
               * (CASE WHEN i % 3 = 0 THEN -1 ELSE 1 END))::real AS r
    FROM generate_series(1, 60000) i
), chunks AS (
    SELECT array_agg(r ORDER BY i) AS a FROM x GROUP BY i / 600
)
SELECT count(*) AS chunks,
       count(*) FILTER (WHERE a::vector::text <> translate(a::text, '{}', '[]')) AS text_mismatches,
       count(*) FILTER (WHERE a::vector::text::vector <> a::vector) AS round_trip_mismatches
FROM chunks;
