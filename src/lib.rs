#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]

pub mod format;
pub mod fs;
pub mod gate;
pub mod keys;
pub mod limits;
pub mod policy;
pub mod sign;
pub mod store;
pub mod trust;
pub mod verify;
