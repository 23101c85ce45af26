/// Decimal numbers written straight into a line buffer, without `String`. Pure functions:
/// callable from any thread.
public enum LogDigits {
    /// Appends `value` in decimal.
    public static func appendDecimal(_ value: UInt64, to line: inout [UInt8]) {
        if value < 10 {
            line.append(0x30 &+ UInt8(value))
            return
        }
        // Digits come out least significant first; 20 is enough for UInt64.max.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var v = value
            var count = 0
            while v > 0 {
                digits[19 - count] = 0x30 &+ UInt8(v % 10)
                v /= 10
                count += 1
            }
            line.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
        }
    }

    /// Appends `value` in decimal, left-padded with zeros to `width` digits.
    public static func appendPadded(_ value: UInt64, width: Int, to line: inout [UInt8]) {
        var digits = 1
        var v = value
        while v >= 10 {
            v /= 10
            digits += 1
        }
        for _ in digits..<max(width, digits) { line.append(0x30) }
        appendDecimal(value, to: &line)
    }
}
