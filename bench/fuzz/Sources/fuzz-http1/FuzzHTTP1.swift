import HTTP1Codec
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// libFuzzer harness for the HTTP/1.1 codec. Each input is a byte stream from a client (and,
// separately, from an upstream server). Invariants checked, any violation aborts (a crash
// for libFuzzer):
//  1. no crash, no sanitizer report;
//  2. every `parse` consumes at most what it was given, and all of it unless a message ended;
//  3. feeding the stream whole and in pieces cut at input-derived points gives the same
//     events (body bytes merged) and the same error;
//  4. every request head parsed, written back by HTTP1Writer and parsed again, is the same
//     head (fields and framing), and a written response head parses back to its fields.

/// Small limits, so that the fuzzer reaches them.
let limits = HTTP1Limits(maxHeaderBytes: 2048, maxHeaderCount: 16, maxTrailerBytes: 512, maxChunkExtensionBytes: 64)

/// Reports `message` on stderr and aborts: libFuzzer saves the input as a crash.
func fail(_ message: String) -> Never {
    var text = Array(message.utf8)
    text.append(0x0A)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

func check(_ condition: Bool, _ message: StaticString) {
    if !condition { fail("invariant violated: \(message)") }
}

/// What a parser reported, flattened into bytes for comparison.
struct Transcript: Equatable {
    var bytes: [UInt8] = []
    var lastWasBody = false
    var error: HTTP1ParseError? = nil

    mutating func tag(_ t: UInt8) {
        bytes.append(t)
        lastWasBody = false
    }

    mutating func block(_ h: HeaderBlock) {
        for i in 0..<h.count {
            h.withValue(at: i) { v in
                bytes += h.name(at: i).utf8
                bytes.append(0)
                bytes += v
                bytes.append(0)
            }
        }
    }

    mutating func framing(_ f: HTTP1Framing) {
        switch f {
        case .none: tag(0x6E)
        case .contentLength(let n): tag(0x6C); withUnsafeBytes(of: n) { bytes += $0 }
        case .chunked: tag(0x63)
        case .untilClose: tag(0x75)
        }
    }

    mutating func body(_ b: UnsafeRawBufferPointer) {
        if !lastWasBody { tag(0x42) }
        bytes += b
        lastWasBody = true
    }

    mutating func end(_ t: HeaderBlock?) {
        tag(0x45)
        if let t { block(t) } else { tag(0x2D) }
    }
}

/// Cut points for `count` bytes from a small PRNG seeded by the input's hash: pieces of 1 to
/// 64 bytes, sometimes single bytes throughout.
func pieces(_ count: Int, seed: UInt64) -> [Range<Int>] {
    var state = seed | 1
    func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
    let byteAtATime = next() % 8 == 0
    var out: [Range<Int>] = []
    var i = 0
    while i < count {
        let n = byteAtATime ? 1 : Int(next() % 64) + 1
        out.append(i..<min(count, i + n))
        i += n
    }
    return out
}

/// Feeds `input` split as `cuts` to a request parser, parsing pipelined requests one after
/// the other as a connection does. Heads are collected when `heads` is given.
func runRequests(_ input: [UInt8], cuts: [Range<Int>], heads: UnsafeMutablePointer<[HTTP1RequestHead]>?) -> Transcript {
    var parser = HTTP1RequestParser(limits: limits)
    var t = Transcript()
    var pending: [UInt8] = []
    for cut in cuts {
        pending += input[cut]
        while !pending.isEmpty {
            var ended = false
            let result = pending.withUnsafeBytes { raw -> Result<Int, HTTP1ParseError> in
                do throws(HTTP1ParseError) {
                    return .success(try parser.parse(raw) { e in
                        switch e {
                        case .head(let h):
                            t.tag(0x48)
                            t.block(h.headers)
                            t.framing(h.framing)
                            t.tag(h.keepAlive ? 1 : 0)
                            t.tag(h.expectsContinue ? 1 : 0)
                            t.tag(UInt8(h.minorVersion))
                            heads?.pointee.append(h)
                        case .body(let b):
                            check(b.count > 0, "empty body event")
                            check(b.baseAddress! >= raw.baseAddress! && b.baseAddress! + b.count <= raw.baseAddress! + raw.count,
                                  "body slice outside the input")
                            t.body(b)
                        case .end(let trailers):
                            t.end(trailers)
                            ended = true
                        }
                    })
                } catch {
                    return .failure(error)
                }
            }
            switch result {
            case .failure(let e):
                t.error = e
                // The parser stays failed.
                let again = pending.withUnsafeBytes { raw -> HTTP1ParseError? in
                    do throws(HTTP1ParseError) { _ = try parser.parse(raw) { _ in }; return nil } catch { return error }
                }
                check(again == e, "a failed parser parsed again")
                return t
            case .success(let used):
                check(used >= 0 && used <= pending.count, "consumed more than given")
                check(ended || used == pending.count, "input left over without an end")
                check(!ended || (!parser.inMessage && !parser.headPending), "inMessage or headPending after an end")
                pending.removeFirst(used)
                if !ended { break }
            }
            if !ended { break }
        }
    }
    return t
}

/// The same for the response parser, with `expectations` (bit i: response i is to HEAD),
/// and what EOF says at the end.
func runResponses(_ input: [UInt8], cuts: [Range<Int>], expectations: UInt64) -> (Transcript, Bool) {
    var parser = HTTP1ResponseParser(limits: limits)
    for i in 0..<8 { parser.expectResponse(toHEAD: expectations >> UInt64(i) & 1 != 0) }
    var t = Transcript()
    var pending: [UInt8] = []
    for cut in cuts {
        pending += input[cut]
        while !pending.isEmpty {
            var ended = false
            let result = pending.withUnsafeBytes { raw -> Result<Int, HTTP1ParseError> in
                do throws(HTTP1ParseError) {
                    return .success(try parser.parse(raw) { e in
                        switch e {
                        case .head(let h):
                            t.tag(0x48)
                            t.block(h.headers)
                            t.framing(h.framing)
                            t.tag(h.keepAlive ? 1 : 0)
                        case .body(let b):
                            check(b.baseAddress! >= raw.baseAddress! && b.baseAddress! + b.count <= raw.baseAddress! + raw.count,
                                  "response body slice outside the input")
                            t.body(b)
                        case .end(let trailers):
                            t.end(trailers)
                            ended = true
                        }
                    })
                } catch {
                    return .failure(error)
                }
            }
            switch result {
            case .failure(let e):
                t.error = e
                return (t, parser.finishAtEOF())
            case .success(let used):
                check(used <= pending.count, "response: consumed more than given")
                check(ended || used == pending.count, "response: input left over without an end")
                pending.removeFirst(used)
            }
            if !ended { break }
        }
    }
    return (t, parser.finishAtEOF())
}

/// Fields of a request head that must survive the writer: all but content-length (the
/// writer re-derives it from the framing) and te (hop-by-hop in HTTP/1.1).
func comparable(_ h: HeaderBlock) -> [[UInt8]] {
    var out: [[UInt8]] = []
    for i in 0..<h.count where !h.name(at: i, equals: "content-length") && !h.name(at: i, equals: "te") {
        h.withValue(at: i) { v in out.append(Array(h.name(at: i).utf8) + [0] + Array(v)) }
    }
    return out
}

func roundTrip(_ head: HTTP1RequestHead) {
    // A request without an authority cannot be HTTP/1.1 (no Host): nothing to compare.
    guard head.headers.firstIndex(of: ":authority") != nil else { return }
    var wire: [UInt8] = []
    check(HTTP1Writer.appendRequestHead(head.headers, framing: head.framing, to: &wire), "a parsed head could not be written")
    var parser = HTTP1RequestParser(limits: HTTP1Limits())
    var again: HTTP1RequestHead? = nil
    let result = wire.withUnsafeBytes { raw -> Result<Int, HTTP1ParseError> in
        do throws(HTTP1ParseError) {
            return .success(try parser.parse(raw) { e in if case .head(let h) = e { again = h } })
        } catch {
            return .failure(error)
        }
    }
    guard case .success(let used) = result else {
        fail("written head does not parse: \(String(decoding: wire, as: UTF8.self))")
    }
    check(used == wire.count, "written head not consumed whole")
    guard let again else { check(false, "written head reported nothing"); return }
    check(again.framing == head.framing, "round trip changed the framing")
    check(comparable(again.headers) == comparable(head.headers), "round trip changed the fields")

    // The head as a response: its fields (pseudo-fields aside) come back in order.
    var response: [UInt8] = []
    HTTP1Writer.appendResponseHead(status: 200, headers: head.headers, framing: .contentLength(0), keepAlive: true, to: &response)
    var rparser = HTTP1ResponseParser(limits: HTTP1Limits())
    rparser.expectResponse(toHEAD: false)
    var rhead: HTTP1ResponseHead? = nil
    let r = response.withUnsafeBytes { raw -> Result<Int, HTTP1ParseError> in
        do throws(HTTP1ParseError) {
            return .success(try rparser.parse(raw) { e in if case .head(let h) = e { rhead = h } })
        } catch {
            return .failure(error)
        }
    }
    guard case .success = r, let rhead else {
        fail("written response head does not parse: \(String(decoding: response, as: UTF8.self))")
    }
    var expected = comparable(head.headers).filter { $0.first != 0x3A }
    expected.insert(Array(":status".utf8) + [0] + Array("200".utf8), at: 0)
    check(comparable(rhead.headers) == expected, "response round trip changed the fields")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    // FNV-1a of the input seeds the cut points: the same input always splits the same way.
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in input { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }

    var heads: [HTTP1RequestHead] = []
    let whole = runRequests(input, cuts: [0..<size], heads: &heads)
    let split = runRequests(input, cuts: pieces(size, seed: hash), heads: nil)
    check(whole == split, "split feeding differs from whole feeding")
    for h in heads { roundTrip(h) }

    let (rWhole, eofWhole) = runResponses(input, cuts: [0..<size], expectations: hash >> 8)
    let (rSplit, eofSplit) = runResponses(input, cuts: pieces(size, seed: hash >> 3), expectations: hash >> 8)
    check(rWhole == rSplit && eofWhole == eofSplit, "response: split feeding differs from whole feeding")
    return 0
}
