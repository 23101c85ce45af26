/// Renders an `AccessLogRecord` as one line of JSON, appended to a byte buffer the caller
/// reuses, without Foundation and without building intermediate strings. Pure functions:
/// callable from any thread.
///
/// The line (one object, keys always present, `null` for absent values):
///
///     {"time":"2026-11-22T10:15:00.123Z","cluster":"payments","listener":"inbound",
///      "peer":"spiffe://mesh/ns/a/sa/b","original_destination":null,"method":"GET","authority":"payments:8443",
///      "path":"/v1/x","status":200,"reason":null,"upstream":"10.0.0.7:8443","upstream_cluster":"cluster2",
///      "request_bytes":0,"response_bytes":512,"duration_us":1834}
///
/// followed by exactly one `\n`. `original_destination` is where a captured connection was
/// headed (`10.96.0.10:80`, `[fd00::1]:80`), null for one traffic capture did not redirect. Time is UTC with milliseconds; the duration is in whole
/// microseconds.
public enum AccessLogJSON {
    /// Appends `record` as a JSON line (with its `\n`) to `line`.
    public static func render(_ record: AccessLogRecord, into line: inout [UInt8]) {
        line.append(contentsOf: #"{"time":""#.utf8)
        appendTimestamp(unixNanos: record.timeUnixNanos, to: &line)
        line.append(contentsOf: #"","cluster":"#.utf8)
        appendString(record.cluster, to: &line)
        line.append(contentsOf: #","listener":"#.utf8)
        appendString(record.listener, to: &line)
        line.append(contentsOf: #","peer":"#.utf8)
        appendString(record.peerIdentity, to: &line)
        line.append(contentsOf: #","original_destination":"#.utf8)
        appendString(record.originalDestination, to: &line)
        line.append(contentsOf: #","method":"#.utf8)
        appendString(record.method, to: &line)
        line.append(contentsOf: #","authority":"#.utf8)
        appendString(record.authority, to: &line)
        line.append(contentsOf: #","path":"#.utf8)
        appendString(record.path, to: &line)
        line.append(contentsOf: #","status":"#.utf8)
        LogDigits.appendDecimal(UInt64(clamping: record.status), to: &line)
        line.append(contentsOf: #","reason":"#.utf8)
        appendString(record.reason, to: &line)
        line.append(contentsOf: #","upstream":"#.utf8)
        appendString(record.upstream, to: &line)
        line.append(contentsOf: #","upstream_cluster":"#.utf8)
        appendString(record.upstreamCluster, to: &line)
        line.append(contentsOf: #","request_bytes":"#.utf8)
        LogDigits.appendDecimal(record.requestBytes, to: &line)
        line.append(contentsOf: #","response_bytes":"#.utf8)
        LogDigits.appendDecimal(record.responseBytes, to: &line)
        line.append(contentsOf: #","duration_us":"#.utf8)
        LogDigits.appendDecimal(record.durationNanos / 1000, to: &line)
        line.append(contentsOf: "}\n".utf8)
    }

    // MARK: Values

    private static func appendString(_ value: String?, to line: inout [UInt8]) {
        guard var text = value else {
            line.append(contentsOf: "null".utf8)
            return
        }
        text.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &line) }
    }

    private static func appendString(_ value: [UInt8], to line: inout [UInt8]) {
        value.withUnsafeBytes { appendString($0, to: &line) }
    }

    /// Appends `bytes` as a quoted JSON string (RFC 8259 §7): `"` and `\` escaped, control
    /// characters as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`; DEL and the scalars
    /// `UTF8Scan.isHazardous` lists as `\uXXXX` (JSON allows them raw, but they are what a
    /// log viewer would act on, and escaping them loses nothing); bytes that are not
    /// well-formed UTF-8 as `\ufffd`, since a JSON text must be UTF-8.
    public static func appendString(_ bytes: UnsafeRawBufferPointer, to line: inout [UInt8]) {
        line.append(0x22)
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b >= 0x20 && b < 0x7F && b != 0x22 && b != 0x5C {
                line.append(b)
                i += 1
                continue
            }
            if b < 0x80 {
                switch b {
                case 0x22: line.append(0x5C); line.append(0x22)
                case 0x5C: line.append(0x5C); line.append(0x5C)
                case 0x0A: line.append(0x5C); line.append(UInt8(ascii: "n"))
                case 0x0D: line.append(0x5C); line.append(UInt8(ascii: "r"))
                case 0x09: line.append(0x5C); line.append(UInt8(ascii: "t"))
                case 0x08: line.append(0x5C); line.append(UInt8(ascii: "b"))
                case 0x0C: line.append(0x5C); line.append(UInt8(ascii: "f"))
                default: appendUnicodeEscape(UInt32(b), to: &line)
                }
                i += 1
            } else if let (length, scalar) = UTF8Scan.sequence(in: bytes, at: i) {
                if UTF8Scan.isHazardous(scalar) {
                    appendUnicodeEscape(scalar, to: &line)
                } else {
                    line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + length)]))
                }
                i += length
            } else {
                appendUnicodeEscape(0xFFFD, to: &line)
                i += 1
            }
        }
        line.append(0x22)
    }

    /// `\uXXXX` for a scalar in the Basic Multilingual Plane (all the escaped ones are).
    private static func appendUnicodeEscape(_ scalar: UInt32, to line: inout [UInt8]) {
        line.append(0x5C)
        line.append(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) {
            line.append(LogEscaping.hexDigits[Int((scalar >> UInt32(shift)) & 0xF)])
        }
    }

    /// Appends `unixNanos` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
    public static func appendTimestamp(unixNanos: UInt64, to line: inout [UInt8]) {
        let seconds = unixNanos / 1_000_000_000
        let millis = (unixNanos % 1_000_000_000) / 1_000_000
        let days = Int64(seconds / 86_400)
        let secondOfDay = seconds % 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        LogDigits.appendPadded(UInt64(year), width: 4, to: &line)
        line.append(UInt8(ascii: "-"))
        LogDigits.appendPadded(UInt64(month), width: 2, to: &line)
        line.append(UInt8(ascii: "-"))
        LogDigits.appendPadded(UInt64(day), width: 2, to: &line)
        line.append(UInt8(ascii: "T"))
        LogDigits.appendPadded(secondOfDay / 3600, width: 2, to: &line)
        line.append(UInt8(ascii: ":"))
        LogDigits.appendPadded(secondOfDay / 60 % 60, width: 2, to: &line)
        line.append(UInt8(ascii: ":"))
        LogDigits.appendPadded(secondOfDay % 60, width: 2, to: &line)
        line.append(UInt8(ascii: "."))
        LogDigits.appendPadded(millis, width: 3, to: &line)
        line.append(UInt8(ascii: "Z"))
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`, valid for any day after the epoch).
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // March is 0.
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
