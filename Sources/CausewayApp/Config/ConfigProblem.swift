/// One thing wrong with the configuration, located precisely enough to fix without searching.
public struct ConfigProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file, as the user wrote its path (the `--config` argument, or a resource path
    /// joined to the directory of the file that names it).
    public let file: String
    /// 1-based line, or 0 when the problem concerns the whole file (it cannot be read, say).
    public let line: Int
    /// 1-based column in Unicode scalars, or 0 with `line`.
    public let column: Int
    /// Path of the offending field, e.g. `spec.listeners[1].address` or
    /// `endpoints[0].addresses[2]`; empty for YAML syntax errors and whole-file problems.
    public let field: String
    /// What is wrong, and where it helps, what would be right.
    public let message: String

    /// Creates a problem.
    public init(file: String, line: Int, column: Int, field: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
    }

    /// `FILE:LINE:COL: FIELD: MESSAGE`, the format compilers use so editors can jump to it.
    /// The position is left out when `line` is 0, the field when it is empty.
    public var description: String {
        var text = file
        if line > 0 { text += ":\(line):\(column)" }
        text += ": "
        if !field.isEmpty { text += "\(field): " }
        return text + message
    }
}

/// Every problem found in one load, in file order (the order files were read, the config file
/// first) and then by line and column. Thrown instead of stopping at the first problem, so one
/// edit-and-validate cycle can fix them all.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    /// Never empty when thrown by `ConfigLoader`.
    public let problems: [ConfigProblem]

    /// Wraps problems, already in the order they should be shown.
    public init(problems: [ConfigProblem]) {
        self.problems = problems
    }

    /// One problem per line.
    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
