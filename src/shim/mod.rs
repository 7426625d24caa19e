//! The exported C ABI.
