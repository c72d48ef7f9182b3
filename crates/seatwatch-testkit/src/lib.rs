//! Helpers shared by Seatwatch's tests.
//!
//! [`proptest_config`] is the one place that decides where proptest persists failing
//! cases: the workspace's top-level `proptest-regressions/` directory, one file per
//! property-test suite, so a failure found once is replayed first on every later run.

use proptest::test_runner::{Config, FileFailurePersistence};

/// The workspace's `proptest-regressions/` directory.
pub fn regressions_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proptest-regressions")
}

/// The proptest configuration every property test in the workspace uses.
///
/// Failures persist in `proptest-regressions/<suite>.txt`; `cases` is the number of
/// random cases per run (`PROPTEST_CASES` overrides it).
pub fn proptest_config(suite: &str, cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    let path = regressions_dir().join(format!("{suite}.txt"));
    let path: &'static str = Box::leak(path.to_string_lossy().into_owned().into_boxed_str());
    Config { cases, failure_persistence: Some(Box::new(FileFailurePersistence::Direct(path))), ..Config::default() }
}
