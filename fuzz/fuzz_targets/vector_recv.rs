//! Fuzz target `vector_recv`: see `vecmap_engine::fuzz::vector_recv` for what it checks.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vecmap_engine::fuzz::vector_recv(data));
