#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]

pub mod attach;
pub mod blob;
pub mod bundle;
pub mod digest;
pub mod evidence;
pub mod fsutil;
pub mod keys;
pub mod oci;
pub mod payload;
pub mod policy;
pub mod reference;
pub mod registry;
pub mod sign;
pub mod verifier;
pub mod verify;
