/// Runs `body` with `text`'s UTF-8 bytes borrowed, as the proxy passes `:method` and `:path`.
func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    var copy = text
    return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
}

/// Runs `body` with two strings' bytes borrowed.
func withBytes<R>(_ a: String, _ b: String, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R) -> R {
    withBytes(a) { x in withBytes(b) { y in body(x, y) } }
}
