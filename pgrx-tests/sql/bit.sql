-- Distances on the built-in bit type (<~> Hamming, <%> Jaccard) and binary_quantize
-- (pgvector's behaviour and messages; expected output from pgvector).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vecmap;
RESET client_min_messages;
\set SHOW_CONTEXT never

SELECT B'111' <~> B'111', B'111' <~> B'110', B'111' <~> B'000', B'1010' <~> B'0101';
SELECT hamming_distance(B'1100101', B'0110110');
SELECT B'1111' <%> B'1111', B'1100' <%> B'1010', B'1000' <%> B'0111', B'0000' <%> B'0000', B'0000' <%> B'1000';
SELECT jaccard_distance(B'11110000', B'00111100');
SELECT B'111' <~> B'11';
SELECT B'111' <%> B'1111';
SELECT hamming_distance(B'1', B'');
SELECT B''::bit(0) <~> B'';
SELECT B''::bit(0) <%> B'';
SELECT '101'::varbit <~> '100'::varbit;
SELECT '10101'::bit(5) <~> '00101'::bit(5);
-- lengths that cross the 8-byte and 64-byte kernel blocks
SELECT n, a <~> b AS hamming, round((a <%> b)::numeric, 6) AS jaccard
FROM (SELECT n, (SELECT string_agg(CASE WHEN sin(i) > 0 THEN '1' ELSE '0' END, '') FROM generate_series(1, n) i)::varbit::bit(3000) a,
             (SELECT string_agg(CASE WHEN cos(i) > 0 THEN '1' ELSE '0' END, '') FROM generate_series(1, n) i)::varbit::bit(3000) b
      FROM unnest(ARRAY[1, 7, 8, 9, 63, 64, 65, 511, 512, 513, 3000]) n) t
ORDER BY n;

-- binary_quantize: bit i set when element i > 0
SELECT binary_quantize('[1,0,-1,0.5]'::vector);
SELECT binary_quantize('[1,0,-1,0.5,2,-3,0,7,1]'::halfvec);
SELECT binary_quantize('[1,2,3]'::vector) <~> binary_quantize('[-1,2,-3]'::vector);
SELECT binary_quantize('[1,2,3]'::halfvec) <%> binary_quantize('[1,-2,3]'::halfvec);
SELECT length(binary_quantize(array_fill(1, ARRAY[16000])::halfvec));
SELECT binary_quantize(v)::bit(4) FROM (VALUES ('[1,-1,1,-1]'::vector)) t(v);
