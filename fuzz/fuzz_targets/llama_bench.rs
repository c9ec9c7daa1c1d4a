//! llama-bench output in any format (md, csv, json, jsonl, sql, the harness's JSON, Findings
//! tables), detected from the content; any error must be one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiersim::calibrate::readers;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Err(e) = readers::read_str(text, "fuzz")
    {
        assert!(!e.to_string().contains('\n'));
    }
});
