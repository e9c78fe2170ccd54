#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imprint::fuzzing::simple_signing(data));
