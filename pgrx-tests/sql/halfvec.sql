-- halfvec: text and binary I/O, typmods, distances, functions, arithmetic, ordering,
-- aggregates and casts (pgvector's behaviour and messages; expected output from pgvector).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vecmap;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- text input / output (binary16 rounding printed as float4out prints it)
SELECT '[1,2,3]'::halfvec;
SELECT ' [ 1.1 , -2.5e-1 ,3 ] '::halfvec;
SELECT '[65504,-65504,6e-8,1e-8,0.1]'::halfvec;
SELECT E'\t[\n1,\r2\f,\x0b3]\n'::halfvec;
SELECT '[65520]'::halfvec;
SELECT '[1e39]'::halfvec;
SELECT '[-1e39]'::halfvec;
SELECT '[NaN]'::halfvec;
SELECT '[Infinity]'::halfvec;
SELECT '[-inf]'::halfvec;
SELECT '[]'::halfvec;
SELECT '1,2,3'::halfvec;
SELECT '[1,2,3'::halfvec;
SELECT '[1,2,3]]'::halfvec;
SELECT '[1,,3]'::halfvec;
SELECT '[1 2]'::halfvec;
SELECT '[1,]'::halfvec;
SELECT '[,1]'::halfvec;
SELECT '[1a]'::halfvec;
SELECT ''::halfvec;
SELECT '['::halfvec;
SELECT array_fill(1, ARRAY[16001])::text::halfvec;
SELECT vector_dims(array_fill(1, ARRAY[16000])::text::halfvec);

-- typmods
SELECT '[1,2,3]'::halfvec(3);
SELECT '[1,2]'::halfvec(3);
SELECT '[1,2,3]'::halfvec(2);
SELECT '[1]'::halfvec(0);
SELECT '[1]'::halfvec(16001);
SELECT '[1]'::halfvec(1, 2);
SELECT '[1]'::halfvec('a');
CREATE TABLE h3 (v halfvec(3));
INSERT INTO h3 VALUES ('[1,2,3]');
INSERT INTO h3 VALUES ('[1,2]');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'h3'::regclass AND attname = 'v';
DROP TABLE h3;

-- binary form: int16 dim, int16 0, big-endian binary16
SELECT halfvec_send('[1,2,3]'::halfvec);
SELECT halfvec_send('[-0,6e-8,65504,-1.5]'::halfvec);
CREATE FUNCTION pg_temp.copy_field(tbl text, field bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    stream bytea := '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
        || '\x0001'::bytea || int4send(length(field)) || field || '\xffff'::bytea;
BEGIN
    EXECUTE format('COPY %I FROM PROGRAM %L WITH (FORMAT binary)', tbl,
        'echo ' || translate(encode(stream, 'base64'), E'\n', '') || ' | base64 -d');
END $$;
CREATE TABLE hrecv (v halfvec);
CREATE TABLE hrecv2 (v halfvec(2));
SELECT pg_temp.copy_field('hrecv', '\x000300003c0040004200');
SELECT pg_temp.copy_field('hrecv2', '\x000200003c004000');
SELECT * FROM hrecv UNION ALL SELECT * FROM hrecv2;
SELECT pg_temp.copy_field('hrecv', '\x000100013c00');
SELECT pg_temp.copy_field('hrecv', '\x00000000');
SELECT pg_temp.copy_field('hrecv', '\x3e810000');
SELECT pg_temp.copy_field('hrecv', '\x000100007e00');
SELECT pg_temp.copy_field('hrecv', '\x000100007c00');
SELECT pg_temp.copy_field('hrecv', '\x000200003c00');
SELECT pg_temp.copy_field('hrecv', '\x000100003c0000');
SELECT pg_temp.copy_field('hrecv2', '\x000300003c0040004200');
CREATE TABLE hsrc (id int, v halfvec);
INSERT INTO hsrc VALUES (1, '[1,2,3]'), (2, NULL), (3, '[-0,6e-8,65504,-1.5]'),
    (4, (SELECT array_agg(sin(i))::halfvec FROM generate_series(1, 16000) i));
CREATE TABLE hdst (id int, v halfvec);
\copy hsrc TO 'halfvec.bin' WITH (FORMAT binary)
\copy hdst FROM 'halfvec.bin' WITH (FORMAT binary)
SELECT id, vector_dims(d.v), halfvec_send(d.v) = halfvec_send(s.v) AS same_bytes
FROM hsrc s JOIN hdst d USING (id) ORDER BY id;
DROP TABLE hrecv, hrecv2, hsrc, hdst;

-- distances
SELECT '[0,0]'::halfvec <-> '[3,4]';
SELECT l2_distance('[1,2,3]'::halfvec, '[3,2,1]');
SELECT halfvec_l2_squared_distance('[1,2,3]'::halfvec, '[3,2,1]');
SELECT '[1,2]'::halfvec <#> '[3,4]';
SELECT inner_product('[1,2]'::halfvec, '[3,4]');
SELECT halfvec_negative_inner_product('[1,2]'::halfvec, '[3,4]');
SELECT '[1,2]'::halfvec <=> '[2,4]';
SELECT '[1,2]'::halfvec <=> '[0,0]';
SELECT '[1,1]'::halfvec <=> '[-1,-1]';
SELECT cosine_distance('[1,2,3]'::halfvec, '[4,5,6]');
SELECT '[1,2]'::halfvec <+> '[3,5]';
SELECT l1_distance('[0,0]'::halfvec, '[65504,65504]');
SELECT halfvec_spherical_distance('[1,0]'::halfvec, '[0,1]');
SELECT '[1,2]'::halfvec <-> '[1,2,3]';
SELECT '[1,2]'::halfvec <=> '[1,2,3]';
SELECT round(l2_distance(a, b)::numeric, 3), round(inner_product(a, b)::numeric, 3),
       round(cosine_distance(a, b)::numeric, 6), round(l1_distance(a, b)::numeric, 3)
FROM (SELECT array_agg(sin(i))::halfvec a, array_agg(cos(i))::halfvec b FROM generate_series(1, 1537) i) t;

-- single-vector functions
SELECT vector_dims('[1,2,3]'::halfvec);
SELECT l2_norm('[3,4]'::halfvec);
SELECT l2_norm('[0,0]'::halfvec);
SELECT l2_normalize('[3,4]'::halfvec);
SELECT l2_normalize('[3,0]'::halfvec);
SELECT l2_normalize('[0,0]'::halfvec);
SELECT l2_normalize('[65504,65504]'::halfvec);
SELECT binary_quantize('[1,0,-1,0.5,2,-3,0,7,1]'::halfvec);
SELECT subvector('[1,2,3,4,5]'::halfvec, 2, 3);
SELECT subvector('[1,2,3,4,5]'::halfvec, 0, 2);
SELECT subvector('[1,2,3,4,5]'::halfvec, 4, 10);
SELECT subvector('[1,2,3,4,5]'::halfvec, -1, 3);
SELECT subvector('[1,2,3,4,5]'::halfvec, 6, 1);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, 0);
SELECT subvector('[1,2,3,4,5]'::halfvec, 2147483647, 10);
SELECT subvector('[1,2,3,4,5]'::halfvec, -2147483647, 2147483647);

-- arithmetic (computed in f32, rounded to binary16)
SELECT '[1,2,3]'::halfvec + '[4,5,6]';
SELECT '[1,2,3]'::halfvec - '[4,5,6]';
SELECT '[1,2,3]'::halfvec * '[4,5,6]';
SELECT '[1,2]'::halfvec || '[3]';
SELECT '[65504]'::halfvec + '[65504]';
SELECT '[-65504]'::halfvec - '[65504]';
SELECT '[65504]'::halfvec * '[2]';
SELECT '[1e-4]'::halfvec * '[1e-4]';
SELECT '[1,2]'::halfvec + '[3]';
SELECT vector_dims(array_fill(1, ARRAY[16000])::halfvec || '[1]'::halfvec);

-- comparison and btree
SELECT '[1,2,3]'::halfvec < '[1,2,4]', '[1,2]'::halfvec < '[1,2,3]', '[1,2,3]'::halfvec = '[1,2,3]',
       '[1,2,3]'::halfvec <> '[1,2,3]', '[2]'::halfvec > '[1,9]', '[1,2]'::halfvec >= '[1,2]',
       '[1,2]'::halfvec <= '[1,1]';
SELECT halfvec_cmp('[1,2]', '[1,2]'), halfvec_cmp('[1,2]', '[1,3]'), halfvec_cmp('[1,3]', '[1,2]');
CREATE TABLE hb (v halfvec);
INSERT INTO hb VALUES ('[1,2,3]'), ('[1,2]'), ('[0,9]'), ('[1,2,3]'), (NULL), ('[-1,0,0,0]');
CREATE INDEX ON hb (v);
SET enable_seqscan = off;
SELECT v FROM hb ORDER BY v;
SELECT v FROM hb WHERE v = '[1,2,3]';
RESET enable_seqscan;
DROP TABLE hb;

-- aggregates
SELECT avg(v) FROM (VALUES ('[1,2,3]'::halfvec), ('[3,5,7]'), (NULL)) t(v);
SELECT sum(v) FROM (VALUES ('[1,2,3]'::halfvec), ('[3,5,7]'), (NULL)) t(v);
SELECT avg(v), sum(v) FROM (SELECT '[1]'::halfvec v WHERE false) t;
SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[1,2,3]')) t(v);
SELECT sum(v) FROM (VALUES ('[60000]'::halfvec), ('[60000]')) t(v);
SELECT avg(v) FROM (VALUES ('[60000]'::halfvec), ('[60000]')) t(v);
SELECT avg(v) FROM (SELECT '[65504,1.5]'::halfvec v FROM generate_series(1, 1000)) t;

-- casts
SELECT '[1.1,2,3]'::vector::halfvec;
SELECT '[1.1,2,3]'::halfvec::vector;
SELECT '[1e5]'::vector::halfvec;
SELECT '[1,2]'::vector::halfvec(3);
SELECT '[1,2,3]'::halfvec::vector(2);
SELECT '[1.5,2,3]'::halfvec::real[];
SELECT ARRAY[1,2,3]::halfvec, ARRAY[1.5,2.5]::real[]::halfvec, ARRAY[1.1,2.2]::float8[]::halfvec,
       ARRAY[1.25,2]::numeric[]::halfvec;
SELECT ARRAY[1,2,3]::halfvec(2);
SELECT ARRAY[100000]::halfvec;
SELECT ARRAY[1e39]::float8[]::halfvec;
SELECT ARRAY['NaN']::real[]::halfvec;
SELECT ARRAY['Infinity']::float8[]::halfvec;
SELECT ARRAY[[1,2],[3,4]]::halfvec;
SELECT ARRAY[1,NULL]::halfvec;
SELECT '{}'::real[]::halfvec;
SELECT ARRAY['a']::text[]::halfvec;
CREATE TABLE hc (v halfvec(2));
INSERT INTO hc VALUES ('[1,2]'::vector), (ARRAY[3,4]), ('[5,6]'::vector(2));
INSERT INTO hc VALUES ('[1,2,3]'::vector);
SELECT * FROM hc;
DROP TABLE hc;
