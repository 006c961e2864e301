-- Binary I/O (vector_send / vector_recv): pgvector's wire form
-- int16 dim, int16 unused (= 0), big-endian float4[dim]; COPY BINARY round trips.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vecmap;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- send: exact bytes
SELECT vector_send('[1,2,3]'::vector);
SELECT vector_send('[-0,1e-45,3.4028235e38,-1.5]'::vector);
SELECT length(vector_send(array_fill(0.5, ARRAY[16000])::vector));

-- receive: feed one raw field through COPY ... (FORMAT binary)
CREATE FUNCTION pg_temp.copy_field(tbl text, field bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    stream bytea := '\x5047434f50590aff0d0a00'::bytea   -- signature "PGCOPY\n\377\r\n\0"
        || '\x0000000000000000'::bytea                  -- flags, header extension length
        || '\x0001'::bytea || int4send(length(field)) || field  -- one tuple with one field
        || '\xffff'::bytea;                             -- trailer
BEGIN
    EXECUTE format('COPY %I FROM PROGRAM %L WITH (FORMAT binary)', tbl,
        'echo ' || translate(encode(stream, 'base64'), E'\n', '') || ' | base64 -d');
END $$;

CREATE TABLE vrecv (v vector);
CREATE TABLE vrecv3 (v vector(3));
SELECT pg_temp.copy_field('vrecv', '\x000300003f8000004000000040400000');
SELECT pg_temp.copy_field('vrecv', '\x0002000080000000' || '\x00000001'::bytea);
SELECT pg_temp.copy_field('vrecv3', '\x000300003f8000004000000040400000');
SELECT * FROM vrecv;
SELECT * FROM vrecv3;
-- what was received is sent back unchanged
SELECT vector_send(v) FROM vrecv;

-- receive errors
SELECT pg_temp.copy_field('vrecv', '\x000100013f800000');
SELECT pg_temp.copy_field('vrecv', '\x0001ffff3f800000');
SELECT pg_temp.copy_field('vrecv', '\x00000000');
SELECT pg_temp.copy_field('vrecv', '\x3e810000');
SELECT pg_temp.copy_field('vrecv', '\xffff0000');
SELECT pg_temp.copy_field('vrecv', '\x000100007fc00000');
SELECT pg_temp.copy_field('vrecv', '\x000200003f8000007f800000');
SELECT pg_temp.copy_field('vrecv', '\x00010000ff800000');
SELECT pg_temp.copy_field('vrecv', '\x000200003f800000');
SELECT pg_temp.copy_field('vrecv', '\x0001');
SELECT pg_temp.copy_field('vrecv', '\x000100003f80000000');
SELECT pg_temp.copy_field('vrecv3', '\x000200003f80000040000000');
SELECT count(*) FROM vrecv;

-- COPY BINARY round trip through a file, NULLs and the largest dimension included
CREATE TABLE vsrc (id int, v vector);
INSERT INTO vsrc VALUES (1, '[0,0,0]'), (2, '[1,2,3]'), (3, '[1,1,1]'), (4, NULL),
    (5, '[-0,1e-45,3.4028235e38,-3.4028235e38,0.1]'),
    (6, (SELECT array_agg(sin(i))::vector FROM generate_series(1, 16000) i));
CREATE TABLE vdst (id int, v vector);
\copy vsrc TO 'vector.bin' WITH (FORMAT binary)
\copy vdst FROM 'vector.bin' WITH (FORMAT binary)
SELECT id, vector_dims(d.v), d.v::text = s.v::text AS same_text, vector_send(d.v) = vector_send(s.v) AS same_bytes
FROM vsrc s JOIN vdst d USING (id) ORDER BY id;
SELECT * FROM vdst WHERE id < 6 ORDER BY v;

-- a typmod on the target column is checked on COPY FROM
CREATE TABLE vdst3 (id int, v vector(3));
\copy vdst3 FROM 'vector.bin' WITH (FORMAT binary)
SELECT count(*) FROM vdst3;

DROP TABLE vrecv, vrecv3, vsrc, vdst, vdst3;
