import CausewayMesh

/// Renders the service table for `/endpoints`.
enum EndpointsJSON {
    static func render(_ table: ServiceTable) -> String {
        var out = "{\n  \"services\": ["
        for (i, s) in table.services.enumerated() {
            out += i == 0 ? "\n" : ",\n"
            out += "    {\"service\": \(quote(s.key.description)), "
            out += "\"sourceCluster\": \(s.sourceCluster.map(quote) ?? "null"), "
            out += "\"totalEndpoints\": \(s.totalEndpoints), \"ready\": ["
            out += s.readyEndpoints.map { quote($0.description) }.joined(separator: ", ")
            out += "]}"
        }
        out += table.services.isEmpty ? "]\n}" : "\n  ]\n}"
        return out
    }

    static func quote(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    r += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    r.unicodeScalars.append(u)
                }
            }
        }
        return r + "\""
    }
}
