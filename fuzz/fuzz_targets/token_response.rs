#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imprint::fuzzing::token_response(data));
