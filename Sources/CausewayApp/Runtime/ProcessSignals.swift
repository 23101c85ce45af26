#if canImport(Glibc)
import Glibc
#endif

/// Signal handling for `causeway run`: the control thread waits for SIGHUP (reload),
/// SIGTERM and SIGINT (stop) with `sigwait`; workers never see them.
public enum ProcessSignals {
    /// What the control thread should do next.
    public enum Action { case reload, stop }

    /// Blocks the handled signals (call before any thread starts so workers inherit the
    /// mask) and ignores SIGPIPE, which a peer closing mid-write would otherwise raise.
    public static func prepare() {
        signal(SIGPIPE, SIG_IGN)
        var set = handledSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits for the next handled signal.
    public static func next() -> Action {
        var set = handledSet()
        var signo: Int32 = 0
        while true {
            guard sigwait(&set, &signo) == 0 else { continue }
            switch signo {
            case SIGHUP: return .reload
            case SIGINT, SIGTERM: return .stop
            default: continue
            }
        }
    }

    private static func handledSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGHUP)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }
}
