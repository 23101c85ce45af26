import Yams

/// Collects problems from every file of one load, so all of them are reported together.
///
/// A class because every reader of every file appends to the same log; it lives only for the
/// duration of one `ConfigLoader.load` call, on one thread.
final class ProblemLog {
    private var entries: [ConfigProblem] = []
    /// Display path -> position in read order, for sorting.
    private var fileOrder: [String: Int] = [:]

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }

    /// Notes that `file` is being read now; problems sort by this order first.
    func register(file: String) {
        if fileOrder[file] == nil { fileOrder[file] = fileOrder.count }
    }

    func report(file: String, line: Int, column: Int, field: String, _ message: String) {
        register(file: file)
        entries.append(ConfigProblem(file: file, line: line, column: column, field: field, message: message))
    }

    func report(file: String, at mark: Mark?, field: String, _ message: String) {
        report(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, field: field, message)
    }

    /// Problems by file read order, then line, then column; ties keep the order reported.
    func sorted() -> [ConfigProblem] {
        entries.enumerated().sorted { a, b in
            let fa = fileOrder[a.element.file] ?? Int.max, fb = fileOrder[b.element.file] ?? Int.max
            if fa != fb { return fa < fb }
            if a.element.line != b.element.line { return a.element.line < b.element.line }
            if a.element.column != b.element.column { return a.element.column < b.element.column }
            return a.offset < b.offset
        }.map(\.element)
    }
}
