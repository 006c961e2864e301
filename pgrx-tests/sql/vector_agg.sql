-- avg(vector) and sum(vector), serial and parallel (partial aggregation + combine).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vecmap;
RESET client_min_messages;

SELECT avg(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]']) v;
SELECT avg(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]', NULL]) v;
SELECT avg(v) FROM unnest(ARRAY[]::vector[]) v;
SELECT avg(v) FROM unnest(ARRAY[NULL]::vector[]) v;
SELECT avg(v) FROM unnest(ARRAY['[1,2]'::vector, '[3]']) v;
SELECT avg(v) FROM unnest(ARRAY['[3e38]'::vector, '[3e38]']) v;
SELECT avg(v) FROM unnest(ARRAY['[0.1]'::vector, '[0.2]', '[0.3]']) v;
SELECT vector_avg('{2,2,4,6}');
SELECT vector_avg('{0}');
SELECT vector_avg('{1}');
SELECT vector_avg('{{2,2,4,6}}');
SELECT vector_avg('{NULL,2,4,6}');
SELECT vector_avg('{}');
SELECT vector_avg(array_agg(n)) FROM generate_series(1, 16002) n;
SELECT vector_accum('{0}', '[1,2,3]');
SELECT vector_accum('{0,0,0,0}', '[1,2,3]');
SELECT vector_accum('{2,1,1,1}', '[1,2,3]');
SELECT vector_accum('{{0}}', '[1,2,3]');
SELECT vector_accum('{NULL}', '[1,2,3]');
SELECT vector_accum('{}', '[1,2,3]');
SELECT vector_accum('{0,0}', '[1,2,3]');
SELECT vector_accum('{0}'::real[]::float8[], '[1]');
SELECT vector_accum('{1,1e308}', '[3e38]');
SELECT vector_combine('{1,2}', '{3,4}');
SELECT vector_combine('{1,2}', '{3,4,5}');
SELECT vector_combine('{{1,2}}', '{3,4}');
SELECT vector_combine('{1,2}', '{{3,4}}');
SELECT vector_combine('{NULL,2}', '{3,4}');
SELECT vector_combine('{1,2}', '{3,NULL}');
SELECT vector_combine('{}', '{0}');
SELECT vector_combine('{0}', '{}');
SELECT vector_combine('{0}', '{0}');
SELECT vector_combine('{0}', '{2,1,2}'), vector_combine('{2,1,2}', '{0}');
SELECT vector_combine('{1,1.7e308}', '{1,1.7e308}');
SELECT vector_combine('{0}', (SELECT array_agg(n) FROM generate_series(1, 16002) n));
SELECT vector_combine((SELECT array_agg(n) FROM generate_series(1, 16002) n), '{0}');
SELECT vector_combine((SELECT array_agg(n) FROM generate_series(1, 16002) n), (SELECT array_agg(n) FROM generate_series(1, 16002) n));

SELECT sum(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]']) v;
SELECT sum(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]', NULL]) v;
SELECT sum(v) FROM unnest(ARRAY[]::vector[]) v;
SELECT sum(v) FROM unnest(ARRAY['[1,2]'::vector, '[3]']) v;
SELECT sum(v) FROM unnest(ARRAY['[3e38]'::vector, '[3e38]']) v;

-- GROUP BY, and a parallel plan (Partial Aggregate in workers, combined in the leader)
-- gives the same answer as a serial one
CREATE TABLE vagg (g int, v vector(4));
-- (small integers and halves: every float4 partial sum is exact, whatever the split)
INSERT INTO vagg SELECT i % 3, ARRAY[i % 100, i % 7, -(i % 13), 0.5]::vector FROM generate_series(1, 30000) i;
ANALYZE vagg;
SELECT g, avg(v), sum(v) FROM vagg GROUP BY g ORDER BY g;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM vagg;
SELECT avg(v), sum(v) FROM vagg;
RESET ALL;
SELECT avg(v), sum(v) FROM vagg;
DROP TABLE vagg;
