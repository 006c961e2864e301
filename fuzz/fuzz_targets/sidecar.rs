//! Fuzz target `sidecar`: see `vecmap_engine::fuzz::sidecar` for what it checks.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vecmap_engine::fuzz::sidecar(data));
