#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The default worker count: one event loop per online CPU.
enum ProcessorCount {
    /// `sysconf(_SC_NPROCESSORS_ONLN)`, clamped to the allowed worker range 1...256.
    static var defaultWorkers: Int {
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return min(max(Int(online), 1), 256)
    }
}
