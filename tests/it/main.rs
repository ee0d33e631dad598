//! Integration tests, in one binary so they link once. Each area has its own
//! module; shared fixtures live in `common`.

// Tests may unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod blockfs;
mod case;
mod case_cli;
mod cli;
mod common;
mod debian;
mod docs;
mod e2e;
mod eradicate;
mod fleet;
mod fssyslog;
mod fw;
mod golden;
mod lab;
mod linux;
mod logauth;
mod netlab;
mod plan;
mod procnet;
mod procplace;
mod repl;
mod safety;
mod scan;
mod scenarios;
mod services_real;
mod speed;
mod stdlib;
mod terminal;
mod units_and_copies;
mod yara;
