//! utmp/wtmp records.
#![no_main]
use libfuzzer_sys::fuzz_target;
use hound::host::sys::utmp::{sessions_from_wtmp, Record, RECORD};

fuzz_target!(|data: &[u8]| {
    let recs: Vec<Record> = data
        .chunks_exact(RECORD)
        .filter_map(|c| <&[u8; RECORD]>::try_from(c).ok())
        .map(Record::parse)
        .collect();
    let _ = sessions_from_wtmp(&recs, "fuzz");
});
