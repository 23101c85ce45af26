import Foundation

/// What became of one reload: shown at `/config` as `lastReload` and logged.
public struct ReloadOutcome: Sendable {
    /// Whether the new configuration is the running one.
    public enum Status: String, Sendable {
        /// Loaded, validated and installed on every worker.
        case applied
        /// Refused; the configuration running before stays in force.
        case rejected
        /// Not applied because a file changed while it was being read (an editor writing in
        /// place): the running configuration stays, and the write's own change event
        /// reloads once the files settle.
        case deferred
    }

    public let status: Status
    /// When the reload finished (wall clock).
    public let time: Date
    /// What asked for it: `SIGHUP`, or the watched files that changed.
    public let trigger: String
    /// Why it was rejected, each with file, line, column and field (empty when applied).
    public let problems: [ConfigProblem]
    /// Remarks on an applied reload (changes that need a restart, new TLS contexts).
    public let notes: [String]

    public init(status: Status, time: Date, trigger: String, problems: [ConfigProblem], notes: [String]) {
        self.status = status
        self.time = time
        self.trigger = trigger
        self.problems = problems
        self.notes = notes
    }

    /// The `lastReload` object of `/config`.
    var json: JSONValue {
        .object([
            ("status", .string(status.rawValue)),
            ("time", .string(time.formatted(.iso8601))),
            ("trigger", .string(trigger)),
            ("problems", .array(problems.map { problem in
                .object([
                    ("file", .string(problem.file)),
                    ("line", .int(problem.line)),
                    ("column", .int(problem.column)),
                    ("field", .string(problem.field)),
                    ("message", .string(problem.message)),
                ])
            })),
            ("notes", .array(notes.map(JSONValue.string))),
        ])
    }
}
