//! Fuzz target `vector_text`: see `vecmap_engine::fuzz::vector_text` for what it checks.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vecmap_engine::fuzz::vector_text(data));
