#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims

/// Watches files and folders with inotify on an `EventLoop` and reports each burst of
/// changes once.
///
/// Directories are watched, not files (`WatchPlan` says which and why), for
/// `IN_CLOSE_WRITE`, `IN_MOVED_TO`, `IN_MOVED_FROM`, `IN_CREATE`, `IN_DELETE`, `IN_ATTRIB`
/// and the directory's own `IN_DELETE_SELF`/`IN_MOVE_SELF`. Events on names that do not
/// matter are dropped. A burst is reported once, after `quietNanos` without a relevant
/// event but at most `maxDelayNanos` after its first (`BurstCoalescer`). A queue overflow
/// (`IN_Q_OVERFLOW`) reports "everything may have changed".
///
/// Before each report the watches are renewed from the paths, so a directory that was
/// replaced (renamed over, or a symlink swapped) is watched again at its new inode. A
/// directory that does not exist is retried every `retryNanos`; its reappearance is a change.
///
/// Loop-bound: create, use and close it on its loop's thread.
public final class FileWatcher: LoopHandler {
    /// What changed in one burst.
    public struct Change: Sendable, Equatable {
        /// The watched files and folders the events were about, sorted.
        public var paths: [String]
        /// True when the kernel's event queue overflowed: anything may have changed.
        public var overflow: Bool

        public init(paths: [String], overflow: Bool) {
            self.paths = paths
            self.overflow = overflow
        }
    }

    /// Whether the watcher still holds its inotify descriptor.
    public enum Lifecycle: Sendable, Equatable { case open, closed }

    /// The events asked for on every watched directory.
    static let eventMask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB
        | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

    private let loop: EventLoop
    private let fd: Int32
    private var coalescer: BurstCoalescer
    private let retryNanos: UInt64
    private let onChange: (Change) -> Void
    private let log: (String) -> Void
    public private(set) var lifecycle = Lifecycle.open

    /// The watched files and folders, as given to `watch`.
    private var files: [String] = []
    private var folders: [String] = []
    /// Watch descriptor by directory path, for the directories watched now.
    private var descriptors: [String: Int32] = [:]
    /// What matters under each watch descriptor (two paths of one directory share one).
    private var interests: [Int32: [WatchPlan.Interest]] = [:]
    /// Planned directories that could not be watched (missing), retried on a timer.
    private var missing: Set<String> = []
    private var retryScheduled = false
    /// The timer for the pending burst, when one is armed.
    private var burstTimer: TimerID?
    /// Paths reported in the pending burst.
    private var pending: Set<String> = []
    private var pendingOverflow = false
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// Opens an inotify descriptor and registers it with `loop`. Nothing is watched until
    /// `watch(files:folders:)`.
    ///
    /// - Parameters:
    ///   - quietNanos: silence that ends a burst (default 200 ms).
    ///   - maxDelayNanos: the longest a burst is held after its first event (default 1 s).
    ///   - retryNanos: how often a missing directory is looked for again (default 1 s).
    ///   - log: diagnostics (a directory that cannot be watched), one line each.
    ///   - onChange: called on the loop once per burst.
    /// - Throws: when inotify is unavailable (`inotify_init1`: the per-user instance
    ///   limit, `fs.inotify.max_user_instances`, is the usual reason).
    public init(loop: EventLoop, quietNanos: UInt64 = 200_000_000, maxDelayNanos: UInt64 = 1_000_000_000,
                retryNanos: UInt64 = 1_000_000_000, log: @escaping (String) -> Void = { _ in },
                onChange: @escaping (Change) -> Void) throws(SystemError) {
        self.loop = loop
        self.coalescer = BurstCoalescer(quietNanos: quietNanos, maxDelayNanos: maxDelayNanos)
        self.retryNanos = retryNanos
        self.onChange = onChange
        self.log = log
        fd = try Syscall.check("inotify_init1", inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)))
        do {
            try loop.register(fd, handler: self, interest: .read)
        } catch {
            Syscall.close(fd)
            throw error
        }
    }

    deinit { close() }

    /// Watches exactly `files` and `folders` (absolute paths) from now on, replacing what
    /// was watched. A burst in progress is still reported.
    public func watch(files: [String], folders: [String]) {
        guard lifecycle == .open else { return }
        self.files = files
        self.folders = folders
        _ = renew()
    }

    /// The directories watched now, sorted (for diagnostics and tests).
    public var watchedDirectories: [String] { descriptors.keys.sorted() }

    /// Stops watching and closes the descriptor.
    public func close() {
        guard lifecycle == .open else { return }
        lifecycle = .closed
        if let t = burstTimer { loop.cancel(t) }
        burstTimer = nil
        loop.deregister(fd)
        Syscall.close(fd)  // removes every watch
        descriptors.removeAll()
        interests.removeAll()
    }

    // MARK: Watches

    /// Adds (or re-adds) a watch for every planned directory and drops the others.
    /// Returns the paths of directories that were missing and are watched again.
    private func renew() -> [String] {
        let plan = WatchPlan.directories(files: files, folders: folders, aliases: symlinkTargets())
        var next: [String: Int32] = [:]
        var nextInterests: [Int32: [WatchPlan.Interest]] = [:]
        var found: [String] = []
        var stillMissing: Set<String> = []
        var newlyMissing: [String] = []
        for (directory, interest) in plan.sorted(by: { $0.key < $1.key }) {
            let wd = inotify_add_watch(fd, directory, Self.eventMask)
            guard wd >= 0 else {
                let code = causeway_errno()
                stillMissing.insert(directory)
                if !missing.contains(directory) { newlyMissing.append("\(directory) (\(String(cString: strerror(code))))") }
                continue
            }
            if missing.contains(directory) { found.append(contentsOf: interest.allPaths) }
            next[directory] = wd
            nextInterests[wd, default: []].append(interest)
        }
        // Mappings go first: the IN_IGNORED that removing a watch produces finds none.
        let dropped = Set(descriptors.values).subtracting(next.values)
        descriptors = next
        interests = nextInterests
        for wd in dropped { _ = inotify_rm_watch(fd, wd) }
        missing = stillMissing
        if !newlyMissing.isEmpty {
            // Once per directory, not per retry.
            log("cannot watch \(newlyMissing.joined(separator: ", ")); retrying every \(retryNanos / 1_000_000) ms")
        }
        if !missing.isEmpty { scheduleRetry() }
        return found
    }

    /// Watched files that are symlinks, with the file they lead to: a change made where the
    /// link points (not through the link's directory) must be seen too.
    private func symlinkTargets() -> [(path: String, reportedAs: String)] {
        var targets: [(path: String, reportedAs: String)] = []
        for file in files {
            guard let resolved = realpath(file, nil) else { continue }
            let target = String(cString: resolved)
            free(resolved)
            if target != file { targets.append((target, file)) }
        }
        return targets
    }

    private func scheduleRetry() {
        guard !retryScheduled else { return }
        retryScheduled = true
        loop.schedule(after: retryNanos) { [weak self] in
            guard let self, self.lifecycle == .open else { return }
            self.retryScheduled = false
            guard !self.missing.isEmpty else { return }
            for path in self.renew() { self.record(path) }
        }
    }

    // MARK: Events

    public func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        guard lifecycle == .open else { return }
        while true {
            let result = readBuffer.withUnsafeMutableBytes { Syscall.read(fd, into: $0) }
            guard case .bytes(let count) = result, count > 0 else { return }
            readBuffer.withUnsafeBytes { parse(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    public func loopFlush() {}

    /// Walks the `struct inotify_event` records in `bytes`: wd, mask, cookie, len (4 bytes
    /// each), then `len` bytes of NUL-padded name.
    private func parse(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset + 16 <= bytes.count {
            let wd = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            let mask = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            let nameStart = offset + 16
            let nameEnd = min(nameStart + length, bytes.count)
            var name = ""
            if length > 0 {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameEnd])
                let used = raw.firstIndex(of: 0) ?? raw.count
                name = String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<used]), as: UTF8.self)
            }
            handle(wd: wd, mask: mask, name: name)
            offset = nameStart + length
        }
    }

    /// One decoded inotify event. Internal so a test can hand it the kernel's overflow event
    /// on machines whose queue is too long to overflow in a test.
    func handle(wd: Int32, mask: UInt32, name: String) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            pendingOverflow = true
            noteEvent()
            return
        }
        guard let watched = interests[wd] else { return }  // a watch we dropped
        if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 {
            // The directory itself went away: whatever it held changed; renewing the
            // watches when the burst ends finds it again (or retries).
            for interest in watched { for path in interest.allPaths { record(path) } }
            return
        }
        let isDirectory = mask & UInt32(IN_ISDIR) != 0
        for interest in watched {
            if let path = interest.reportedPath(for: name, isDirectory: isDirectory) { record(path) }
        }
    }

    private func record(_ path: String) {
        pending.insert(path)
        noteEvent()
    }

    /// One more relevant event: (re)arms the burst timer for the coalescer's deadline.
    private func noteEvent() {
        coalescer.note(now: loop.now)
        armBurstTimer()
    }

    private func armBurstTimer() {
        // One timer at a time: the deadline only moves later, so an early timer that finds
        // the burst not yet due re-arms for the new deadline.
        guard burstTimer == nil, let deadline = coalescer.deadline else { return }
        burstTimer = loop.schedule(at: deadline) { [weak self] in self?.burstTimerFired() }
    }

    private func burstTimerFired() {
        burstTimer = nil
        guard lifecycle == .open else { return }
        guard coalescer.takeIfDue(now: loop.now) else {
            armBurstTimer()
            return
        }
        // Renew first: a directory replaced during the burst is watched at its new inode
        // before anyone reads it, so a change right after the report is not missed.
        for path in renew() { pending.insert(path) }
        let change = Change(paths: pending.sorted(), overflow: pendingOverflow)
        pending.removeAll()
        pendingOverflow = false
        onChange(change)
    }
}
