#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    sluice_fuzz::decode_request(frame);
});
