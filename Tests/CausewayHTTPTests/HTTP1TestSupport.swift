import Testing
@testable import CausewayHTTP

/// What a parser reported, in a comparable form.
struct HTTP1Recorded: Equatable {
    var heads: [[String]] = []          // "name: value" per field
    var framings: [HTTP1Framing] = []
    var keepAlives: [Bool] = []
    var continues: [Bool] = []
    var statuses: [Int] = []
    var body: [UInt8] = []
    var ends: [[String]?] = []          // trailers per end
    var order: [String] = []            // "head", "body", "end"

    /// Body events are merged: how the input was split changes their number, not their bytes.
    mutating func note(_ kind: String) {
        if kind == "body" && order.last == "body" { return }
        order.append(kind)
    }
}

func lines(_ block: HeaderBlock) -> [String] {
    (0..<block.count).map { "\(block.name(at: $0)): \(block.value(at: $0))" }
}

/// Feeds `bytes` to a request parser in pieces of `split` bytes (or at `cuts`), calling
/// parse again with the unconsumed rest after each `.end`, as a connection does with
/// pipelined requests. Returns what was reported and the error, if any.
func parseRequests(_ bytes: [UInt8], split: Int? = nil, cuts: [Int]? = nil, limits: HTTP1Limits = .init(),
                   maxMessages: Int = .max) -> (HTTP1Recorded, HTTP1ParseError?) {
    var parser = HTTP1RequestParser(limits: limits)
    var rec = HTTP1Recorded()
    let pieces = piecesOf(bytes, split: split, cuts: cuts)
    var pending: [UInt8] = []
    do {
        for piece in pieces {
            pending += piece
            while !pending.isEmpty && rec.ends.count < maxMessages {
                let before = rec.ends.count
                let used = try withBytes(pending) { raw throws(HTTP1ParseError) in
                    try parser.parse(raw) { event in record(event, into: &rec) }
                }
                #expect(used <= pending.count)
                pending.removeFirst(used)
                if rec.ends.count == before { #expect(pending.isEmpty); break }
            }
        }
    } catch let error as HTTP1ParseError {
        return (rec, error)
    } catch {
        Issue.record("unexpected error \(error)")
    }
    return (rec, nil)
}

func record(_ event: HTTP1Event<HTTP1RequestHead>, into rec: inout HTTP1Recorded) {
    switch event {
    case .head(let h):
        rec.heads.append(lines(h.headers))
        rec.framings.append(h.framing)
        rec.keepAlives.append(h.keepAlive)
        rec.continues.append(h.expectsContinue)
        rec.note("head")
    case .body(let b):
        rec.body += b
        rec.note("body")
    case .end(let t):
        rec.ends.append(t.map(lines))
        rec.note("end")
    }
}

func piecesOf(_ bytes: [UInt8], split: Int?, cuts: [Int]?) -> [[UInt8]] {
    if let cuts {
        var out: [[UInt8]] = []
        var last = 0
        for c in cuts.sorted() where c > last && c < bytes.count {
            out.append(Array(bytes[last..<c]))
            last = c
        }
        out.append(Array(bytes[last...]))
        return out
    }
    guard let split else { return [bytes] }
    return stride(from: 0, to: bytes.count, by: split).map { Array(bytes[$0..<min($0 + split, bytes.count)]) }
}

extension Array where Element == UInt8 {
    init(http text: String) { self = Array(text.utf8) }
}

/// The error a request gets, or nil when it parses.
func requestError(_ text: String, limits: HTTP1Limits = .init()) -> HTTP1ParseError? {
    parseRequests(Array(text.utf8), limits: limits).1
}

/// `bytes.withUnsafeBytes` for a body with typed throws (withUnsafeBytes rethrows `any Error`).
func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(HTTP1ParseError) -> R) throws(HTTP1ParseError) -> R {
    try bytes.withUnsafeBytes { raw -> Result<R, HTTP1ParseError> in
        do throws(HTTP1ParseError) { return .success(try body(raw)) } catch { return .failure(error) }
    }.get()
}
