-- sparsevec: text and binary I/O, typmods, distances, functions, ordering and casts
-- (pgvector's behaviour and messages; expected output from pgvector).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vecmap;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- text input / output: 1-based indices, any order, zeros dropped
SELECT '{1:1.5,3:2}/5'::sparsevec;
SELECT ' { 3 : 2 , 1:1.5 } / 5 '::sparsevec;
SELECT '{1:0,2:1,3:-0}/3'::sparsevec;
SELECT '{}/3'::sparsevec;
SELECT '{ }/1'::sparsevec;
SELECT E'{\t1:1,\n2:2}\r/2'::sparsevec;
SELECT '{1:1e-45,2:3.4028235e38}/2'::sparsevec;
SELECT '{1:1}/1000000000'::sparsevec;
SELECT '{1000000000:1}/1000000000'::sparsevec;
SELECT '{1:1e39}/2'::sparsevec;
SELECT '{1:1e-46}/2'::sparsevec;
SELECT '{1:NaN}/2'::sparsevec;
SELECT '{1:-Infinity}/2'::sparsevec;
SELECT '{0:1}/2'::sparsevec;
SELECT '{3:1}/2'::sparsevec;
SELECT '{-1:1}/2'::sparsevec;
SELECT '{2147483648:1}/2'::sparsevec;
SELECT '{1:1,1:2}/2'::sparsevec;
SELECT '{1:1}/0'::sparsevec;
SELECT '{1:1}/-1'::sparsevec;
SELECT '{1:1}/1000000001'::sparsevec;
SELECT '{1:1}/99999999999'::sparsevec;
SELECT '[1,2]'::sparsevec;
SELECT '{1:1}'::sparsevec;
SELECT '{1:1}/'::sparsevec;
SELECT '{1:1}/2x'::sparsevec;
SELECT '{1:1}/2/'::sparsevec;
SELECT '{1:}/2'::sparsevec;
SELECT '{:1}/2'::sparsevec;
SELECT '{1 1}/2'::sparsevec;
SELECT '{1:1 2:2}/2'::sparsevec;
SELECT '{1:1,}/2'::sparsevec;
SELECT '{1.5:1}/2'::sparsevec;
SELECT ''::sparsevec;
SELECT '{'::sparsevec;
SELECT ('{' || array_to_string(array_agg(i || ':1'), ',') || '}/20000')::sparsevec
FROM generate_series(1, 16001) i;
SELECT l2_norm(('{' || array_to_string(array_agg(i || ':1'), ',') || '}/20000')::sparsevec)
FROM generate_series(1, 16000) i;

-- typmods
SELECT '{1:1}/3'::sparsevec(3);
SELECT '{1:1}/2'::sparsevec(3);
SELECT '{1:1}/1'::sparsevec(0);
SELECT '{1:1}/1'::sparsevec(1000000001);
SELECT '{1:1}/1'::sparsevec(1, 2);
CREATE TABLE s3 (v sparsevec(3));
INSERT INTO s3 VALUES ('{1:1}/3');
INSERT INTO s3 VALUES ('{1:1}/4');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 's3'::regclass AND attname = 'v';
DROP TABLE s3;

-- binary form: int32 dim, nnz, 0, 0-based int32 indices, float4 values
SELECT sparsevec_send('{1:1.5,3:2}/5'::sparsevec);
SELECT sparsevec_send('{}/3'::sparsevec);
CREATE FUNCTION pg_temp.copy_field(tbl text, field bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    stream bytea := '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
        || '\x0001'::bytea || int4send(length(field)) || field || '\xffff'::bytea;
BEGIN
    EXECUTE format('COPY %I FROM PROGRAM %L WITH (FORMAT binary)', tbl,
        'echo ' || translate(encode(stream, 'base64'), E'\n', '') || ' | base64 -d');
END $$;
CREATE TABLE srecv (v sparsevec);
CREATE TABLE srecv5 (v sparsevec(5));
SELECT pg_temp.copy_field('srecv', '\x00000005000000020000000000000000000000023fc0000040000000');
SELECT pg_temp.copy_field('srecv5', '\x00000005000000000000000000');
SELECT pg_temp.copy_field('srecv5', '\x000000050000000000000000');
SELECT * FROM srecv UNION ALL SELECT * FROM srecv5;
SELECT pg_temp.copy_field('srecv', '\x00000005000000010000000100000000' || '\x3f800000'::bytea);
SELECT pg_temp.copy_field('srecv', '\x00000000000000000000000000');
SELECT pg_temp.copy_field('srecv', '\x000000000000000000000000');
SELECT pg_temp.copy_field('srecv', '\x3b9aca01000000000000000000');
SELECT pg_temp.copy_field('srecv', '\x00000002ffffffff00000000');
SELECT pg_temp.copy_field('srecv', '\x00000002000000030000000000000000000000010000000100000000000000000000000000');
SELECT pg_temp.copy_field('srecv', '\x000000020000000200000000000000010000000000000001000000003f8000003f800000');
SELECT pg_temp.copy_field('srecv', '\x000000020000000200000000000000000000000000000001000000003f8000003f800000');
SELECT pg_temp.copy_field('srecv', '\x000000020000000100000000000000020000000000');
SELECT pg_temp.copy_field('srecv', '\x0000000200000001000000000000000000000000');
SELECT pg_temp.copy_field('srecv', '\x00000002000000010000000000000000' || '\x7fc00000'::bytea);
SELECT pg_temp.copy_field('srecv', '\x00000002000000010000000000000000');
SELECT pg_temp.copy_field('srecv5', '\x000000040000000000000000');
CREATE TABLE ssrc (id int, v sparsevec);
INSERT INTO ssrc VALUES (1, '{1:1.5,3:2}/5'), (2, NULL), (3, '{}/7'), (4, '{1000000000:-1e-45}/1000000000');
CREATE TABLE sdst (id int, v sparsevec);
\copy ssrc TO 'sparsevec.bin' WITH (FORMAT binary)
\copy sdst FROM 'sparsevec.bin' WITH (FORMAT binary)
SELECT id, d.v, sparsevec_send(d.v) = sparsevec_send(s.v) AS same_bytes
FROM ssrc s JOIN sdst d USING (id) ORDER BY id;
DROP TABLE srecv, srecv5, ssrc, sdst;

-- distances (exact, by index merge)
SELECT '{1:3}/2'::sparsevec <-> '{2:4}/2';
SELECT l2_distance('{1:1,2:2,3:3}/3'::sparsevec, '{1:3,2:2,3:1}/3');
SELECT sparsevec_l2_squared_distance('{1:1,3:3}/4'::sparsevec, '{2:2,3:1,4:5}/4');
SELECT '{1:1,2:2}/2'::sparsevec <#> '{1:3,2:4}/2';
SELECT inner_product('{1:1,3:2}/5'::sparsevec, '{3:4,5:7}/5');
SELECT sparsevec_negative_inner_product('{1:1}/5'::sparsevec, '{2:4}/5');
SELECT '{1:1,2:2}/2'::sparsevec <=> '{1:2,2:4}/2';
SELECT '{1:1}/2'::sparsevec <=> '{}/2';
SELECT cosine_distance('{1:1,2:2,3:3}/3'::sparsevec, '{1:4,2:5,3:6}/3');
SELECT '{1:1,2:2}/3'::sparsevec <+> '{2:5,3:-1}/3';
SELECT '{1:1}/2'::sparsevec <-> '{1:1}/3';
SELECT '{1:1}/2'::sparsevec <+> '{1:1}/3';
WITH d AS (SELECT array_agg(CASE WHEN i % 3 = 0 THEN sin(i) ELSE 0 END) a,
                  array_agg(CASE WHEN i % 5 = 0 THEN cos(i) ELSE 0 END) b FROM generate_series(1, 3000) i)
-- equal to the dense distances up to float4 summation order
SELECT abs((a::sparsevec <-> b::sparsevec) - (a::vector <-> b::vector)) <= 1e-5 * (a::vector <-> b::vector) AS l2_same,
       abs((a::sparsevec <#> b::sparsevec) - (a::vector <#> b::vector)) <= 1e-5 * abs(a::vector <#> b::vector) AS ip_same,
       abs((a::sparsevec <+> b::sparsevec) - (a::vector <+> b::vector)) <= 1e-5 * (a::vector <+> b::vector) AS l1_same,
       round((a::sparsevec <=> b::sparsevec)::numeric, 6) AS cosine
FROM d;

-- functions
SELECT l2_norm('{1:3,2:4}/2'::sparsevec);
SELECT l2_norm('{}/2'::sparsevec);
SELECT l2_normalize('{1:3,2:4}/5'::sparsevec);
SELECT l2_normalize('{}/5'::sparsevec);
SELECT l2_normalize('{1:3.4028235e38,2:1e-45}/2'::sparsevec);

-- comparison and btree
SELECT '{1:1}/2'::sparsevec < '{1:2}/2', '{1:1}/2'::sparsevec = '{1:1}/2', '{1:1}/2'::sparsevec < '{1:1}/3',
       '{2:1}/2'::sparsevec < '{1:1}/2', '{1:-1}/2'::sparsevec < '{}/2', '{}/2'::sparsevec < '{2:1}/2',
       '{1:1,2:1}/2'::sparsevec > '{1:1}/2', '{1:1}/2'::sparsevec <> '{1:1}/2';
SELECT sparsevec_cmp('{1:1}/2', '{1:1}/2'), sparsevec_cmp('{}/3', '{1:1}/2'), sparsevec_cmp('{2:-1}/3', '{}/3');
CREATE TABLE sb (v sparsevec);
INSERT INTO sb VALUES ('{1:1}/3'), ('{}/3'), ('{2:1}/3'), ('{1:-1}/3'), (NULL), ('{1:1}/2'), ('{3:2}/3'), ('{1:1,2:1}/3');
CREATE INDEX ON sb (v);
SET enable_seqscan = off;
SELECT v FROM sb ORDER BY v;
RESET enable_seqscan;
SELECT v FROM sb ORDER BY v::vector, v;
DROP TABLE sb;

-- casts
SELECT '[0,1.5,0,2,0]'::vector::sparsevec;
SELECT '[0,0]'::vector::sparsevec;
SELECT '{2:1.5,4:2}/5'::sparsevec::vector;
SELECT '[0,1.1,0]'::halfvec::sparsevec;
SELECT '{2:1.1}/3'::sparsevec::halfvec;
SELECT '{2:1e5}/3'::sparsevec::halfvec;
SELECT '{1:1}/16001'::sparsevec::vector;
SELECT '{1:1}/16001'::sparsevec::halfvec;
SELECT '{1:1}/3'::sparsevec::vector(2);
SELECT '[1,2]'::vector::sparsevec(3);
SELECT ARRAY[0,1,0,2]::sparsevec, ARRAY[0,1.5]::real[]::sparsevec, ARRAY[0.5,0]::float8[]::sparsevec,
       ARRAY[0,2.25]::numeric[]::sparsevec;
SELECT ARRAY[0,0,0]::sparsevec(3);
SELECT ARRAY[1,2]::sparsevec(3);
SELECT ARRAY['NaN',0]::real[]::sparsevec;
SELECT ARRAY[1e39]::float8[]::sparsevec;
SELECT ARRAY[[1,2]]::sparsevec;
SELECT ARRAY[1,NULL]::sparsevec;
SELECT '{}'::int[]::sparsevec;
SELECT array_fill(1, ARRAY[16001])::sparsevec;
SELECT array_fill(1, ARRAY[16000])::sparsevec = array_fill(1, ARRAY[16000])::vector::sparsevec;
SELECT array_fill(1, ARRAY[16001])::vector(16001);
CREATE TABLE sc (v sparsevec(3));
INSERT INTO sc VALUES ('[1,0,2]'::vector), ('[0,3,0]'::halfvec), (ARRAY[4,0,0]);
INSERT INTO sc VALUES ('[1,2]'::vector);
SELECT * FROM sc;
DROP TABLE sc;
