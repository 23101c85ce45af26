import Foundation
import Yams

/// Reads a file and composes its YAML documents into node trees (which keep line and
/// column), turning read and syntax errors into problems.
enum YAMLDocuments {
    /// The documents of a file, in order, skipping empty ones (a stray `---`).
    struct Result {
        var documents: [Node]
        /// True when the file could not be read or parsed to its end: later checks that depend
        /// on the whole file ("no Proxy document") would only add noise.
        var incomplete: Bool
    }

    static func read(_ file: ConfigFile, log: ProblemLog) -> Result {
        log.register(file: file.display)
        guard let data = FileManager.default.contents(atPath: file.absolute) else {
            log.report(file: file.display, line: 0, column: 0, field: "", "cannot read file")
            return Result(documents: [], incomplete: true)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            log.report(file: file.display, line: 0, column: 0, field: "", "file is not valid UTF-8")
            return Result(documents: [], incomplete: true)
        }
        return parse(text, file: file.display, log: log)
    }

    /// Composes every document of `text`. Documents before a syntax error are kept, so their
    /// problems are reported too.
    static func parse(_ text: String, file: String, log: ProblemLog) -> Result {
        var documents: [Node] = []
        do {
            let parser = try Parser(yaml: text)
            while let root = try parser.nextRoot() {
                if root.typeName == .null { continue }
                documents.append(root)
            }
            return Result(documents: documents, incomplete: false)
        } catch let error as YamlError {
            let (position, message) = describe(error, in: text)
            log.report(file: file, line: position.line, column: position.column, field: "", message)
        } catch {
            log.report(file: file, line: 0, column: 0, field: "", "YAML error: \(error)")
        }
        return Result(documents: documents, incomplete: true)
    }

    /// Position and sentence for a Yams error.
    private static func describe(_ error: YamlError, in text: String) -> ((line: Int, column: Int), String) {
        func syntax(_ problem: String, _ mark: Mark, _ context: YamlError.Context?) -> ((line: Int, column: Int), String) {
            let position = (mark.line, mark.column)
            guard let context else { return (position, "YAML syntax error: \(problem)") }
            let place = context.mark.line == mark.line
                ? "" : " at line \(context.mark.line), column \(context.mark.column)"
            return (position, "YAML syntax error: \(problem) (\(context.text)\(place))")
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return syntax(problem, mark, context)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            return ((context.mark.line, context.mark.column), "duplicate key \(keys) in one mapping")
        case .reader(let problem, let offset, _, _):
            return (position(ofUTF8Offset: offset ?? 0, in: text), "cannot read YAML: \(problem)")
        default:
            return ((0, 0), "YAML error: \(error)")
        }
    }

    private static func position(ofUTF8Offset offset: Int, in text: String) -> (line: Int, column: Int) {
        var line = 1, column = 1
        for (i, byte) in text.utf8.enumerated() {
            if i >= offset { break }
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else if byte & 0xc0 != 0x80 { column += 1 }
        }
        return (line, column)
    }
}
