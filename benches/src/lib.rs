//! Shared bench fixtures live in the benches themselves; this library is empty on purpose.
