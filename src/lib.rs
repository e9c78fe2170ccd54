#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]

pub mod digest;
pub mod evidence;
pub mod reference;
pub mod registry;
