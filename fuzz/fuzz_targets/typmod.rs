//! Fuzz target `typmod`: see `vecmap_engine::fuzz::typmod` for what it checks.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vecmap_engine::fuzz::typmod(data));
