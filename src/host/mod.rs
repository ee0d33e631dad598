//! Plain Rust that reads and changes the system. Nothing here knows Rhai:
//! functions take Rust values, return serde structs and [`crate::Error`].

pub mod action;
pub mod action_account;
pub mod action_file;
pub mod evidence;
pub mod fs;
pub mod fw;
pub mod ioc;
pub mod lab;
pub mod linux;
pub mod log;
pub mod net;
pub mod netns;
pub mod proc;
pub mod quarantine;
pub mod remediate;
pub mod scan;
pub mod sys;
pub mod yara;
