#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]

pub mod digest;
pub mod evidence;
pub mod policy;
pub mod registry;
