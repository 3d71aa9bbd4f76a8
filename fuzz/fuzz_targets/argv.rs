//! argv scanning: any bytes, split on NUL into arguments. Never panics, and what reaches the
//! runtime is a subsequence of the input, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fuzz_target!(|data: &[u8]| {
    let argv: Vec<OsString> = std::iter::once(OsString::from("rampart"))
        .chain(
            data.split(|b| *b == 0)
                .map(|a| OsString::from_vec(a.to_vec())),
        )
        .collect();
    let _ = rampart::argv::lenient_global(&argv);
    if let Ok(inv) = rampart::argv::parse(argv.clone()) {
        let mut rest = argv.iter().skip(1);
        for kept in &inv.runtime_args {
            assert!(
                rest.any(|a| a == kept),
                "{argv:?} -> {:?}",
                inv.runtime_args
            );
        }
    }
});
