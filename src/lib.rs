#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]

pub mod bundle;
pub mod digest;
pub mod evidence;
pub mod registry;
