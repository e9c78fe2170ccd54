#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imprint::fuzzing::trust_policy(data));
