#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]

pub mod blob;
pub mod digest;
pub mod evidence;
pub mod fsutil;
pub mod keys;
pub mod payload;
pub mod registry;
