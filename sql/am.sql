-- The vecmap index access method and its operator classes (pgvector's opclass names).

CREATE FUNCTION vecmap_amhandler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME', 'vecmap_amhandler' LANGUAGE C;

CREATE ACCESS METHOD vecmap TYPE INDEX HANDLER vecmap_amhandler;
COMMENT ON ACCESS METHOD vecmap IS 'HNSW index with an int8 arena and f32 rerank in a memory-mapped sidecar';

CREATE OPERATOR CLASS vector_l2_ops DEFAULT FOR TYPE vector USING vecmap AS
    OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 l2_distance(vector, vector);

CREATE OPERATOR CLASS vector_ip_ops FOR TYPE vector USING vecmap AS
    OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 vector_negative_inner_product(vector, vector);

CREATE OPERATOR CLASS vector_cosine_ops FOR TYPE vector USING vecmap AS
    OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 cosine_distance(vector, vector);
