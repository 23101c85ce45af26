// libyaml, as vendored by Yams (its `CYaml` module). Yams composes whole documents only and
// offers no token or event API, so the scan below drives libyaml's scanner directly.
import CYaml

/// Finds YAML anchors (`&name`) and aliases (`*name`) without composing any document.
///
/// Configuration files may not use them (security review L1): composing an alias re-uses a
/// whole subtree, so a few lines can expand into an exponentially large document, and Yams'
/// duplicate-key check hashes every key of a mapping, which for an alias used as a key walks
/// that expanded subtree (exponential CPU before any of our checks could run). The scanner
/// only tokenises (linear in the input, nothing expanded), so running it first makes the
/// check safe to do before `Yams.Parser` sees the text.
enum YAMLAnchors {
    struct Found: Equatable {
        enum Kind: Equatable { case anchor, alias }
        let kind: Kind
        /// The name after `&` or `*`.
        let name: String
        /// 1-based, as Yams marks count (libyaml's marks plus one).
        let line: Int
        let column: Int

        /// `&name` or `*name`, shortened if it is long.
        var spelling: String {
            let shown = name.count > 40 ? name.prefix(40) + "..." : Substring(name)
            return (kind == .anchor ? "&" : "*") + shown
        }
    }

    enum Result: Equatable {
        /// Every anchor and alias in the text, in order; empty when there are none. When the
        /// text has a syntax error, those before it: the parser stops at the same error, so
        /// nothing after it is ever composed.
        case scanned([Found])
        /// libyaml could not allocate its scanner.
        case failed
    }

    static func scan(_ text: String) -> Result {
        var text = text
        return text.withUTF8 { bytes -> Result in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return .scanned([]) }
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return .failed }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, base, bytes.count)
            var found: [Found] = []
            while true {
                var token = yaml_token_t()
                // 0: a scanner error; the Yams parse that follows reports it.
                guard yaml_parser_scan(&parser, &token) == 1 else { return .scanned(found) }
                defer { yaml_token_delete(&token) }
                switch token.type {
                case YAML_STREAM_END_TOKEN, YAML_NO_TOKEN:
                    return .scanned(found)
                case YAML_ANCHOR_TOKEN:
                    found.append(Found(kind: .anchor, name: string(token.data.anchor.value), mark: token.start_mark))
                case YAML_ALIAS_TOKEN:
                    found.append(Found(kind: .alias, name: string(token.data.alias.value), mark: token.start_mark))
                default:
                    break
                }
            }
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String {
        guard let pointer else { return "" }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: strlen(pointer)), as: UTF8.self)
    }
}

private extension YAMLAnchors.Found {
    init(kind: Kind, name: String, mark: yaml_mark_t) {
        self.init(kind: kind, name: name, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}
