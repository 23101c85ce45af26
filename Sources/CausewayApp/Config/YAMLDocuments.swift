import Foundation
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file and composes its YAML documents into node trees (which keep line and
/// column), turning read and syntax errors into problems.
///
/// Two limits keep a hostile or mistaken file from costing unbounded memory or CPU before
/// validation: a file may hold at most `maxFileBytes` (checked before it is read whole, and
/// never read beyond), and it may not use anchors or aliases (found by `YAMLAnchors` before
/// anything is composed).
enum YAMLDocuments {
    /// 4 MiB: far beyond any real configuration (a thousand-endpoint slice is ~100 KiB).
    static let maxFileBytes = 4 << 20
    /// Anchors and aliases reported per file; the rest are counted in one more problem.
    static let maxAnchorProblems = 20

    /// The documents of a file, in order, skipping empty ones (a stray `---`).
    struct Result {
        var documents: [Node]
        /// True when the file could not be read or parsed to its end: later checks that depend
        /// on the whole file ("no Proxy document") would only add noise.
        var incomplete: Bool
    }

    static func read(_ file: ConfigFile, log: ProblemLog) -> Result {
        log.register(file: file.display)
        let data: Data
        switch contents(ofFile: file.absolute) {
        case .data(let d):
            data = d
        case .unreadable:
            log.report(file: file.display, line: 0, column: 0, field: "", "cannot read file")
            return Result(documents: [], incomplete: true)
        case .tooLarge(let size):
            let actual = size.map { "is \($0) bytes" } ?? "has more than \(maxFileBytes) bytes"
            log.report(file: file.display, line: 0, column: 0, field: "",
                       "file \(actual); a configuration file may have at most \(maxFileBytes) bytes (4 MiB)")
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
        switch YAMLAnchors.scan(text) {
        case .failed:
            log.report(file: file, line: 0, column: 0, field: "", "cannot scan YAML: out of memory")
            return Result(documents: [], incomplete: true)
        case .scanned(let found) where !found.isEmpty:
            // Nothing of this file is composed: that is what would cost the time.
            for item in found.prefix(maxAnchorProblems) {
                log.report(file: file, line: item.line, column: item.column, field: "",
                           "anchors and aliases are not allowed (found \(item.kind == .anchor ? "anchor" : "alias") "
                               + "\(item.spelling)); write each value out in full")
            }
            if found.count > maxAnchorProblems, let next = found.dropFirst(maxAnchorProblems).first {
                log.report(file: file, line: next.line, column: next.column, field: "",
                           "\(found.count - maxAnchorProblems) more anchors and aliases from here on are not listed")
            }
            return Result(documents: [], incomplete: true)
        case .scanned:
            break
        }
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

    enum Contents: Equatable {
        case data(Data)
        case unreadable
        /// Over `maxFileBytes`; the size when the file system knows it (a regular file).
        case tooLarge(size: Int?)
    }

    /// The file's bytes, reading at most `maxFileBytes + 1` of them whatever the file is (a
    /// regular file's size is checked first, so a large one is not read at all; a FIFO or
    /// device is cut off).
    static func contents(ofFile path: String) -> Contents {
        guard let handle = FileHandle(forReadingAtPath: path) else { return .unreadable }
        defer { try? handle.close() }
        var status = stat()
        if fstat(handle.fileDescriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, Int(status.st_size) > maxFileBytes {
            return .tooLarge(size: Int(status.st_size))
        }
        var data = Data()
        while data.count <= maxFileBytes {
            let chunk: Data?
            do {
                chunk = try handle.read(upToCount: maxFileBytes + 1 - data.count)
            } catch {
                return .unreadable
            }
            guard let chunk, !chunk.isEmpty else { return .data(data) }
            data.append(chunk)
        }
        // Grew past the limit after the size check, or not a regular file.
        return .tooLarge(size: nil)
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
