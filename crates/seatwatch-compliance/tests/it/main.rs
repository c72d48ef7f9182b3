//! Integration tests of the compliance projector through its public API only.

mod day;
mod prop;
mod support;
