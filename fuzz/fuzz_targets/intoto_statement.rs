#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imprint::fuzzing::intoto_statement(data));
