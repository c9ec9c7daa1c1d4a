//! fio's JSON results; any error must be one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiersim::tier::fio::{FioLatency, FioOp};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Err(e) = FioLatency::from_json(text, None, FioOp::Read)
    {
        assert!(!e.to_string().contains('\n'));
    }
});
