-- Distance functions and operators, norms, normalization, subvector, binary_quantize.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vecmap;
RESET client_min_messages;

SELECT vector_dims('[1,2,3]'::vector);
SELECT round(vector_norm('[1,1]')::numeric, 5);
SELECT vector_norm('[3,4]');
SELECT vector_norm('[0,1]');
SELECT vector_norm('[3e37,4e37]')::real;
SELECT vector_norm('[0,0]');
SELECT vector_norm('[2]');

-- L2
SELECT l2_distance('[0,0]'::vector, '[3,4]');
SELECT l2_distance('[0,0]'::vector, '[0,1]');
SELECT l2_distance('[1,2]'::vector, '[3]');
SELECT l2_distance('[3e38]'::vector, '[-3e38]');
SELECT l2_distance('[1,1,1,1,1,1,1,1,1]'::vector, '[1,1,1,1,1,1,1,4,5]');
SELECT '[0,0]'::vector <-> '[3,4]';
SELECT vector_l2_squared_distance('[0,0]'::vector, '[3,4]');

-- inner product
SELECT inner_product('[1,2]'::vector, '[3,4]');
SELECT inner_product('[1,2]'::vector, '[3]');
SELECT inner_product('[3e38]'::vector, '[3e38]');
SELECT inner_product('[1,1,1,1,1,1,1,1,1]'::vector, '[1,2,3,4,5,6,7,8,9]');
SELECT '[1,2]'::vector <#> '[3,4]';
SELECT vector_negative_inner_product('[1,2]'::vector, '[3,4]');

-- cosine
SELECT cosine_distance('[1,2]'::vector, '[2,4]');
SELECT cosine_distance('[1,2]'::vector, '[0,0]');
SELECT cosine_distance('[1,1]'::vector, '[1,1]');
SELECT cosine_distance('[1,0]'::vector, '[0,2]');
SELECT cosine_distance('[1,1]'::vector, '[-1,-1]');
SELECT cosine_distance('[1,2]'::vector, '[3]');
SELECT cosine_distance('[1,1]'::vector, '[1.1,1.1]');
SELECT cosine_distance('[1,1]'::vector, '[-1.1,-1.1]');
SELECT cosine_distance('[3e38]'::vector, '[3e38]');
SELECT cosine_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[1,2,3,4,5,6,7,8,9]');
SELECT cosine_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[-1,-2,-3,-4,-5,-6,-7,-8,-9]');
SELECT '[1,2]'::vector <=> '[2,4]';
SELECT vector_spherical_distance('[1,0]'::vector, '[0,1]'), vector_spherical_distance('[1,0]'::vector, '[-1,0]');

-- L1
SELECT l1_distance('[0,0]'::vector, '[3,4]');
SELECT l1_distance('[0,0]'::vector, '[0,1]');
SELECT l1_distance('[1,2]'::vector, '[3]');
SELECT l1_distance('[3e38]'::vector, '[-3e38]');
SELECT l1_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[1,2,3,4,5,6,7,8,9]');
SELECT l1_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[0,3,2,5,4,7,6,9,8]');
SELECT '[0,0]'::vector <+> '[3,4]';

-- every operator agrees with its function and with a float8 reference computed in SQL, for
-- dimensions 1..100 (all SIMD body/tail splits) and a 3072-d pair
CREATE TABLE vpairs AS
SELECT d, array_agg(sin(d * 7 + i)::real ORDER BY i)::vector AS a,
          array_agg(cos(d * 3 + i * 1.5)::real ORDER BY i)::vector AS b
FROM generate_series(1, 100) d, generate_series(1, d) i GROUP BY d
UNION ALL
SELECT 3072, array_agg(sin(i)::real ORDER BY i)::vector, array_agg(cos(i)::real ORDER BY i)::vector
FROM generate_series(1, 3072) i;
CREATE TABLE vref AS
SELECT d, sqrt(sum((x - y) ^ 2)) AS l2, sum(x * y) AS ip, sum(abs(x - y)) AS l1,
       1 - sum(x * y) / sqrt(sum(x * x) * sum(y * y)) AS cos, sqrt(sum(x * x)) AS norm
FROM vpairs, unnest(a::real[]::float8[], b::real[]::float8[]) u(x, y) GROUP BY d;
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE abs((a <-> b) - l2) > 1e-5 * greatest(1, l2)) AS l2_bad,
       count(*) FILTER (WHERE abs(-(a <#> b) - ip) > 1e-5 * greatest(1, abs(ip), d / 10.0)) AS ip_bad,
       count(*) FILTER (WHERE abs((a <=> b) - cos) > 1e-5) AS cos_bad,
       count(*) FILTER (WHERE abs((a <+> b) - l1) > 1e-5 * greatest(1, l1)) AS l1_bad,
       count(*) FILTER (WHERE abs(vector_norm(a) - norm) > 1e-12 * greatest(1, norm)) AS norm_bad,
       count(*) FILTER (WHERE (a <-> b) <> l2_distance(a, b) OR (a <#> b) <> -inner_product(a, b)
                           OR (a <=> b) <> cosine_distance(a, b) OR (a <+> b) <> l1_distance(a, b)
                           OR (a <-> b) ^ 2 - vector_l2_squared_distance(a, b) > 1e-9 * greatest(1, l2 ^ 2)) AS op_bad,
       count(*) FILTER (WHERE (a <-> b) <> (b <-> a) OR (a <#> b) <> (b <#> a)
                           OR (a <=> b) <> (b <=> a) OR (a <+> b) <> (b <+> a)) AS not_symmetric
FROM vpairs JOIN vref USING (d);
DROP TABLE vpairs, vref;

-- l2_normalize
SELECT l2_normalize('[3,4]'::vector);
SELECT l2_normalize('[3,0]'::vector);
SELECT l2_normalize('[0,0.1]'::vector);
SELECT l2_normalize('[0,0]'::vector);
SELECT l2_normalize('[3e38]'::vector);
SELECT l2_normalize('[1e-45,1e-45]'::vector);
SELECT round(vector_norm(l2_normalize('[1,2,3,4,5]'::vector))::numeric, 6);

-- binary_quantize
SELECT binary_quantize('[1,0,-1]'::vector);
SELECT binary_quantize('[0,0.1,-0.2,-0.3,0.4,0.5,0.6,-0.7,0.8,-0.9,1]'::vector);
SELECT binary_quantize('[1,2,3,-4,5,6,-7,8,1,-2,-3,4,5,-6,7,8,-1,2,3]'::vector);
SELECT binary_quantize('[1,1,1,1,1,1,1,1]'::vector), length(binary_quantize('[1,1,1,1,1,1,1,1,1]'::vector));

-- subvector (1-based, clipped like substring)
SELECT subvector('[1,2,3,4,5]'::vector, 1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 2);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 9);
SELECT subvector('[1,2,3,4,5]'::vector, 5, 1);
SELECT subvector('[1,2,3,4,5]'::vector, 1, 0);
SELECT subvector('[1,2,3,4,5]'::vector, 3, -1);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 2);
SELECT subvector('[1,2,3,4,5]'::vector, 6, 1);
SELECT subvector('[1,2,3,4,5]'::vector, 2147483647, 10);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483644, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483648, 2147483647);

-- STRICT: NULL in, NULL out
SELECT l2_distance(NULL::vector, '[1]'), vector_dims(NULL::vector), subvector('[1,2]'::vector, NULL, 1);

-- every function of the type: pgvector's volatility, strictness and parallel safety
SELECT count(*) AS functions,
       count(*) FILTER (WHERE provolatile = 'i' AND proisstrict AND proparallel = 's') AS immutable_strict_parallel_safe,
       count(*) FILTER (WHERE l.lanname = 'c') AS in_c
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.proname IN ('vector_in', 'vector_out', 'vector_typmod_in', 'vector_recv', 'vector_send',
    'l2_distance', 'inner_product', 'cosine_distance', 'l1_distance', 'vector_l2_squared_distance',
    'vector_negative_inner_product', 'vector_spherical_distance', 'vector_dims', 'vector_norm',
    'l2_normalize', 'binary_quantize', 'subvector', 'vector_add', 'vector_sub', 'vector_mul',
    'vector_concat', 'vector_lt', 'vector_le', 'vector_eq', 'vector_ne', 'vector_ge', 'vector_gt',
    'vector_cmp', 'vector_accum', 'vector_avg', 'vector_combine', 'vector', 'array_to_vector',
    'vector_to_float4');
SELECT aggfnoid::regprocedure, aggtransfn, aggcombinefn, aggfinalfn, aggtranstype::regtype, agginitval,
       (SELECT proparallel FROM pg_proc WHERE oid = aggfnoid) AS parallel
FROM pg_aggregate WHERE aggfnoid::regprocedure::text LIKE '%(vector)' ORDER BY aggfnoid::regprocedure::text;
