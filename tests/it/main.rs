//! Integration tests, in one binary so they link once. Each area has its own
//! module; shared fixtures live in `common`.

mod case;
mod cli;
mod common;
mod debian;
mod docs;
mod e2e;
mod fssyslog;
mod fw;
mod lab;
mod linux;
mod logauth;
mod netlab;
mod procnet;
mod procplace;
mod repl;
mod scan;
mod stdlib;
