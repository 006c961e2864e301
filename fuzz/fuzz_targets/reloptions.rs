//! Fuzz target `reloptions`: see `vecmap_engine::fuzz::reloptions` for what it checks.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vecmap_engine::fuzz::reloptions(data));
