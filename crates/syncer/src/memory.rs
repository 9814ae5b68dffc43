//! Process-wide allocator tuning, applied before any thread starts.

/// Caps glibc's malloc at two arenas unless the operator set `MALLOC_ARENA_MAX`.
///
/// Why: glibc gives threads that allocate at the same time their own arenas (up to
/// eight per core) and seldom hands freed arena memory back. A sync moves pages of
/// megabytes through a dozen or more threads (the worker pool, the runtime, each
/// plugin's runtime), so the resident set grew to several times the live data:
/// listing the benchmark cloud peaked at 327 MB with the default arenas and 139 MB
/// with two, in the same wall time (`cargo xtask bench`, scenario a, no store).
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called from main before
        // any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
