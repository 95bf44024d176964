//! The built-in policy library: every `.pal` file of `policies/`, embedded at build time.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
