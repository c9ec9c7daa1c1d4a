//! GGUF header bytes: read, then turned into a model spec; any error must be one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiersim::model::gguf;

fuzz_target!(|data: &[u8]| {
    match gguf::read_header(data, &gguf::Limits::default()) {
        Ok(h) => {
            if let Err(e) = gguf::to_model_spec(&h, "fuzz") {
                assert!(!e.to_string().contains('\n'));
            }
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
});
