import CausewayLoop
import Foundation
import Synchronization

/// The one reload path, for SIGHUP and for watched files alike: loads the configuration
/// from its path, installs it (`ProxyServer.reload`), logs the outcome, shows it at
/// `/config` and remembers it. Reloads never overlap: a second one waits for the first.
public final class Reloader: Sendable {
    /// What asked for a reload.
    public enum Trigger: Sendable {
        /// SIGHUP.
        case signal
        /// Watched files or folders changed (`ConfigWatcher`).
        case files(FileWatcher.Change)

        /// As shown in the log and in `lastReload.trigger`.
        var text: String {
            switch self {
            case .signal: return "SIGHUP"
            case .files(let change) where change.overflow: return "file change (inotify queue overflow)"
            case .files(let change):
                let shown = change.paths.prefix(5).joined(separator: ", ")
                return "file change: " + shown + (change.paths.count > 5 ? " and \(change.paths.count - 5) more" : "")
            }
        }
    }

    /// The running configuration and the last outcome.
    private struct State {
        var current: LoadedConfig
        var last: ReloadOutcome?
    }

    private let path: String
    private let server: ProxyServer
    private let log: @Sendable (_ text: String, _ isProblem: Bool) -> Void
    /// Held for a whole reload: the serialization.
    private let serial = Mutex(())
    private let state: Mutex<State>

    /// - Parameters:
    ///   - path: the `--config` path, loaded again on every reload.
    ///   - running: the configuration `server` started with.
    ///   - log: one message per call (may span lines); `isProblem` for a rejected reload.
    public init(path: String, server: ProxyServer, running: LoadedConfig,
                log: @escaping @Sendable (_ text: String, _ isProblem: Bool) -> Void) {
        self.path = path
        self.server = server
        self.log = log
        self.state = Mutex(State(current: running))
    }

    /// The configuration in force: the one started with or the last one applied.
    public var current: LoadedConfig { state.withLock { $0.current } }

    /// The outcome of the latest reload, nil before the first.
    public var last: ReloadOutcome? { state.withLock { $0.last } }

    /// Loads and installs the configuration; on any problem the running one stays.
    @discardableResult
    public func reload(_ trigger: Trigger) -> ReloadOutcome {
        serial.withLock { _ in
            let outcome: ReloadOutcome
            do {
                // The files as they are before reading them: a file written in place while it
                // is read (truncated, then filled) can parse as valid but incomplete, and
                // installing that would drop its services until the next reload.
                let before = FilesFingerprint(state.withLock { $0.current })
                let next = try ConfigLoader.load(path: path)
                if case .files = trigger, let after = next.fingerprint, !before.agrees(with: after) {
                    log("causeway: files changed while they were read (\(trigger.text)); keeping the running configuration until the writes settle", false)
                    let outcome = ReloadOutcome(status: .deferred, time: Date(), trigger: trigger.text, problems: [], notes: [])
                    state.withLock { $0.last = outcome }
                    server.update(lastReload: outcome)
                    return outcome
                }
                let notes = try server.reload(next)
                outcome = ReloadOutcome(status: .applied, time: Date(), trigger: trigger.text, problems: [], notes: notes)
                state.withLock { $0.current = next }
                var text = "causeway: reloaded \(path) (\(next.services.services.count) service(s)) after \(trigger.text)"
                for n in notes { text += "\ncauseway: note: \(n)" }
                log(text, false)
            } catch let error as ConfigErrors {
                outcome = rejected(trigger, problems: error.problems, text: error.description)
            } catch let error as StartupError {
                outcome = rejected(trigger, problems: error.problems, text: error.description)
            } catch {
                outcome = rejected(trigger, problems: [], text: "\(error)")
            }
            state.withLock { $0.last = outcome }
            server.update(lastReload: outcome)
            return outcome
        }
    }

    private func rejected(_ trigger: Trigger, problems: [ConfigProblem], text: String) -> ReloadOutcome {
        log("causeway: reload rejected (\(trigger.text)), keeping the running configuration:\n\(text)", true)
        return ReloadOutcome(status: .rejected, time: Date(), trigger: trigger.text, problems: problems, notes: [])
    }
}
