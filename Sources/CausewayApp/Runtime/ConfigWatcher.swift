import CausewayLoop

/// Reloads when the configuration's files change: a `FileWatcher` on a loop thread of its
/// own ("causeway-watch") watching the `WatchSet` of the configuration in force, which it
/// recomputes after every applied reload. The reload runs on that thread, through the
/// same `Reloader` SIGHUP uses (so the two never overlap), while the workers keep serving.
public final class ConfigWatcher: Sendable {
    private let mailbox: Mailbox
    private let join: @Sendable () -> Void

    /// Starts watching `reloader.current`'s files. A file that changed between the load of
    /// the configuration in force and the moment the watches are in place (nothing saw it)
    /// causes one reload then.
    /// - Parameter log: diagnostics (a directory that cannot be watched, inotify missing).
    public static func start(reloader: Reloader, log: @escaping @Sendable (String) -> Void) throws(SystemError) -> ConfigWatcher {
        let (mailbox, join) = try LoopThread.start(name: "causeway-watch") { loop in
            do {
                let state = try WatchLoopState(loop: loop, reloader: reloader, log: log)
                loop.context = state
                state.refresh()
                if let loaded = reloader.current.fingerprint, FilesFingerprint(reloader.current) != loaded {
                    state.changedBeforeWatching()
                }
            } catch {
                log("causeway: file watching unavailable (\(error)); SIGHUP still reloads")
                loop.stop()
            }
        }
        return ConfigWatcher(mailbox: mailbox, join: join)
    }

    private init(mailbox: Mailbox, join: @escaping @Sendable () -> Void) {
        self.mailbox = mailbox
        self.join = join
    }

    /// Watches what the configuration in force names (call after a reload made elsewhere,
    /// i.e. on SIGHUP).
    public func refresh() {
        mailbox.post { loop in (loop.context as? WatchLoopState)?.refresh() }
    }

    /// Stops watching and joins the thread.
    public func stop() {
        mailbox.post { loop in
            (loop.context as? WatchLoopState)?.close()
            loop.stop()
        }
        join()
    }
}

/// The watch thread's state: the watcher and what it watches. Loop-bound.
private final class WatchLoopState {
    private var watcher: FileWatcher!
    private let reloader: Reloader
    private let log: @Sendable (String) -> Void
    private var watched: WatchSet?

    init(loop: EventLoop, reloader: Reloader, log: @escaping @Sendable (String) -> Void) throws(SystemError) {
        self.reloader = reloader
        self.log = log
        watcher = try FileWatcher(loop: loop, log: { log("causeway: watch: \($0)") }) { [unowned self] change in
            self.changed(change)
        }
    }

    /// A burst of changes ended: reload, then watch what the configuration in force names.
    private func changed(_ change: FileWatcher.Change) {
        reloader.reload(.files(change))
        refresh()
    }

    /// Files changed before the watches were in place: reload once, as for a burst.
    func changedBeforeWatching() {
        changed(FileWatcher.Change(paths: [], overflow: true))
    }

    /// Watches the `WatchSet` of the configuration in force (nothing when `spec.watch` is false).
    func refresh() {
        let next = WatchSet(reloader.current)
        guard next != watched else { return }
        if watched != nil || !next.isEmpty {
            log(next.isEmpty
                ? "causeway: not watching files (spec.watch: false); SIGHUP reloads"
                : "causeway: watching \(next.files.count) file(s) and \(next.folders.count) folder(s) for changes")
        }
        watched = next
        watcher.watch(files: next.files, folders: next.folders)
    }

    func close() { watcher.close() }
}
