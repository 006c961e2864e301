//! vecmap: a pgvector-compatible `vector` type and the `vecmap` index access method.
//!
//! The SQL surface is hand-written in `sql/` (pgvector's names and signatures) and bound
//! to raw V1 C functions here, so the wire formats and catalog entries match pgvector's.
use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

#[macro_use]
mod fmgr;
pub mod types;

extension_sql_file!("../sql/vector.sql", name = "vector", bootstrap);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn vector_text_round_trip() {
        let s = Spi::get_one::<String>("SELECT '[1, 2.5,-3e-2]'::vector::text").unwrap();
        assert_eq!(s.as_deref(), Some("[1,2.5,-0.03]"));
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
