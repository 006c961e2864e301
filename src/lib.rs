//! vecmap: a pgvector-compatible `vector` type and the `vecmap` index access method.
//!
//! The SQL surface is hand-written in `sql/` (pgvector's names and signatures) and bound
//! to raw V1 C functions here, so the wire formats and catalog entries match pgvector's.
use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

#[macro_use]
mod fmgr;
pub mod types;
pub mod am;

extension_sql_file!("../sql/vector.sql", name = "vector", bootstrap);
extension_sql_file!("../sql/am.sql", name = "am", requires = ["vector"]);
extension_sql_file!("../sql/vecmap--0.1.0--0.2.0.sql", name = "functions", requires = ["am"]);
extension_sql_file!("../sql/vecmap--0.2.0--0.3.0.sql", name = "v0_3", requires = ["functions"]);

/// Registers GUCs and reloptions.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    am::options::init();
    am::lifecycle::init();
    am::explain::init();
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn vector_text_round_trip() {
        let s = Spi::get_one::<String>("SELECT '[1, 2.5,-3e-2]'::vector::text").unwrap();
        assert_eq!(s.as_deref(), Some("[1,2.5,-0.03]"));
    }

    /// vector_out prints every element exactly as float4out does (extra_float_digits = 1),
    /// over ~260k float bit patterns spread across all exponents, subnormals and signs.
    #[pg_test]
    fn vector_out_matches_float4out() {
        use crate::types::vector_io::format_vector_into;
        let mut buf = vec![0u8; 64];
        for bits in (0..=u32::MAX).step_by(16411) {
            let v = f32::from_bits(bits);
            if !v.is_finite() {
                continue;
            }
            let n = format_vector_into(&[v], &mut buf);
            let ours = std::str::from_utf8(&buf[1..n - 1]).unwrap();
            // SAFETY: float4out takes one float4 datum and returns a palloc'd cstring.
            let theirs = unsafe {
                pgrx::direct_function_call::<&std::ffi::CStr>(pg_sys::float4out, &[Some(pg_sys::Datum::from(bits))])
            };
            assert_eq!(ours, theirs.unwrap().to_str().unwrap(), "bits {bits:#010x}");
        }
    }

    unsafe fn recv(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
        // SAFETY: forwarded: a valid fcinfo for vector_recv(internal, oid, int4).
        unsafe { crate::types::vector_binary::vector_recv(fcinfo) }
    }

    /// vector_send's bytes go back through vector_recv unchanged and are fully consumed.
    #[pg_test]
    fn vector_send_recv_round_trip() {
        use crate::types::vector::VectorRef;
        for dim in [1usize, 2, 3, 17, 1000, 16000] {
            let scale = dim % 30;
            let q = format!("SELECT vector_send(array_agg(sin(i) * 1e{scale})::vector) FROM generate_series(1, {dim}) i");
            let bytes = Spi::get_one::<Vec<u8>>(&q).unwrap().unwrap();
            assert_eq!(bytes.len(), 4 + 4 * dim);
            assert_eq!(&bytes[..4], &[(dim >> 8) as u8, dim as u8, 0, 0]);
            // SAFETY: a fresh StringInfo holding the message; recv reads it and returns a vector.
            unsafe {
                let buf = pg_sys::makeStringInfo();
                pg_sys::appendBinaryStringInfo(buf, bytes.as_ptr() as *const std::ffi::c_char, bytes.len() as i32);
                let args = [buf.into(), pg_sys::Datum::from(0u32), pg_sys::Datum::from(-1i32)].map(Some);
                let d = pgrx::direct_function_call_as_datum(recv, &args).unwrap();
                assert_eq!((*buf).cursor, (*buf).len);
                let v = VectorRef::from_datum(d);
                assert_eq!(v.dim(), dim);
                for (i, x) in v.data.iter().enumerate() {
                    assert_eq!(x.to_be_bytes(), bytes[4 + 4 * i..8 + 4 * i]);
                }
            }
        }
    }

    /// The parallel-safe avg/sum aggregates agree with a float8 reference on random data.
    #[pg_test]
    fn vector_avg_matches_float8_reference() {
        Spi::run(
            "CREATE TEMP TABLE a AS
             SELECT ARRAY[random(), random() * 100, -random()]::vector(3) v FROM generate_series(1, 5000)",
        )
        .unwrap();
        let bad = Spi::get_one::<i64>(
            "WITH e AS (SELECT v::real[] r FROM a),
                  ref AS (SELECT avg(r[1]) x, avg(r[2]) y, avg(r[3]) z FROM e),
                  got AS (SELECT avg(v)::real[] m FROM a)
             SELECT count(*) FROM ref, got
             WHERE abs(m[1] - x) > 1e-6 OR abs(m[2] - y) > 1e-4 OR abs(m[3] - z) > 1e-6",
        );
        assert_eq!(bad, Ok(Some(0)));
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
