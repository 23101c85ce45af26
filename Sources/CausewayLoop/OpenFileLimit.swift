#if canImport(Glibc)
import Glibc
#endif

/// The process's descriptor budget (RLIMIT_NOFILE).
public enum OpenFileLimit {
    /// Raises the soft limit to the hard limit (Debian starts services at 1,024 soft with a
    /// much larger hard limit) and returns the soft limit now in force.
    @discardableResult
    public static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Downstream connections each of `workers` may hold so that a quarter of `limit`
    /// descriptors (at least 256) stays free for upstream connections, link probes,
    /// listeners and files: a flood of clients then fails at accept, never at a connect to
    /// a healthy remote gateway.
    public static func downstreamBudget(limit: Int, workers: Int) -> Int {
        let reserve = max(256, limit / 4)
        return max(1, (limit - reserve) / max(1, workers))
    }
}
