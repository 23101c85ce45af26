/// Every HTTPRoute attached to one parent Service, compiled: (route, rule, match) triples in
/// Gateway API precedence order, so a request selects the first triple it satisfies.
///
/// Built once per snapshot per parent Service; `match` runs per request and reads the request's
/// bytes in place. Precedence (Gateway API `HTTPRoute` spec), across all rules and matches of
/// all routes:
/// 1. an `Exact` path before a `PathPrefix`;
/// 2. the longer prefix first (length without the ignored trailing `/`, so `/api/` and `/api`
///    tie: they match the same requests);
/// 3. a match with a method before one without;
/// 4. more header matches first;
/// 5. more query parameter matches first;
/// 6. then routes by namespace, then name (we have no creation timestamps, the spec's first
///    tie-break), then rule order, then match order.
///
/// A rule with no matches behaves as one match `PathPrefix /`.
///
/// Query parameters compare by exact name and value, the first occurrence of the name only,
/// with no percent-decoding and no `+`-to-space: `?q=a%20b` carries the value `a%20b`. A
/// parameter without `=` has the empty value.
public struct CompiledRoutes: Sendable {
    /// The routes, sorted by namespace then name (the tie-break across routes). Indexes
    /// returned by `match` refer to this array and to `rules` of its elements.
    public let routes: [HTTPRoutePolicy]
    /// Every match of every rule, in precedence order.
    private let entries: [Entry]

    /// One (route, rule, match) triple, its strings compiled to bytes.
    private struct Entry: Sendable {
        let route: Int
        let rule: Int
        let match: Int
        let exact: Bool
        /// Exact: the whole path. Prefix: without trailing `/`, so empty for `/` (matches all).
        let path: [UInt8]
        let method: [UInt8]?
        /// Names lowercase (the `header` lookup's contract).
        let headers: [NameValue]
        let queryParams: [QueryParam]
    }

    private struct QueryParam: Sendable {
        let name: [UInt8]
        let value: [UInt8]
    }

    /// Compiles `routes`, which should all be attached to the same parent Service (not
    /// checked: the caller groups them).
    public init(_ routes: [HTTPRoutePolicy]) {
        // Sort with the original position as a last key, so duplicate ids keep input order.
        let sorted = routes.enumerated().sorted { a, b in
            if a.element.namespace != b.element.namespace { return a.element.namespace < b.element.namespace }
            if a.element.name != b.element.name { return a.element.name < b.element.name }
            return a.offset < b.offset
        }.map(\.element)
        self.routes = sorted

        var entries: [Entry] = []
        for (routeIndex, route) in sorted.enumerated() {
            for (ruleIndex, rule) in route.rules.enumerated() {
                let matches = rule.matches.isEmpty ? [RouteMatch()] : rule.matches
                for (matchIndex, match) in matches.enumerated() {
                    entries.append(Self.compile(match, route: routeIndex, rule: ruleIndex, match: matchIndex))
                }
            }
        }
        // The comparator is a total order (route, rule and match indexes end every tie), so
        // the result does not depend on the sort's stability.
        entries.sort(by: Self.precedes)
        self.entries = entries
    }

    /// The (route index, rule index) the request selects, or nil when no rule matches.
    /// `path` is `:path` as sent (may contain `?query`); `method` the `:method` bytes; `header`
    /// returns the value of the first field with that lowercase name, or nil. No heap
    /// allocation unless a match reads headers (whatever `header` costs); query parameters are
    /// read in place.
    public func match(method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer, header: (String) -> String?) -> (route: Int, rule: Int)? {
        let (pathOnly, query) = PolicyBytes.splitQuery(path)
        for entry in entries where Self.matches(entry, method: method, path: pathOnly, query: query, header: header) {
            return (entry.route, entry.rule)
        }
        return nil
    }

    /// Whether no route has any rule (every request falls through to the parent Service).
    public var isEmpty: Bool { entries.isEmpty }

    // MARK: Compiling

    private static func compile(_ match: RouteMatch, route: Int, rule: Int, match index: Int) -> Entry {
        let exact: Bool
        var path: [UInt8]
        switch match.path {
        case .exact(let value):
            exact = true
            path = Array(value.utf8)
        case .prefix(let value):
            exact = false
            path = Array(value.utf8)
            while path.last == UInt8(ascii: "/") { path.removeLast() }
        }
        // Names are validated lowercase; lowercasing again keeps the lookup contract even so.
        let headers = match.headers.map { NameValue(name: asciiLowercased($0.name), value: $0.value) }
        let query = match.queryParams.map { QueryParam(name: Array($0.name.utf8), value: Array($0.value.utf8)) }
        return Entry(route: route, rule: rule, match: index, exact: exact, path: path,
                     method: match.method.map { Array($0.utf8) }, headers: headers, queryParams: query)
    }

    private static func asciiLowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// Gateway API precedence; a total order.
    private static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        if a.exact != b.exact { return a.exact }
        if a.path.count != b.path.count { return a.path.count > b.path.count }
        if (a.method != nil) != (b.method != nil) { return a.method != nil }
        if a.headers.count != b.headers.count { return a.headers.count > b.headers.count }
        if a.queryParams.count != b.queryParams.count { return a.queryParams.count > b.queryParams.count }
        if a.route != b.route { return a.route < b.route }
        if a.rule != b.rule { return a.rule < b.rule }
        return a.match < b.match
    }

    // MARK: Matching

    /// Every present part of the match must hold; the cheap byte checks come first so headers
    /// are only looked up for requests that already match on path and method.
    private static func matches(_ entry: Entry, method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer,
                                query: UnsafeRawBufferPointer, header: (String) -> String?) -> Bool {
        if entry.exact {
            guard PolicyBytes.equal(path, entry.path) else { return false }
        } else {
            guard prefixMatches(path, entry.path) else { return false }
        }
        if let wanted = entry.method, !PolicyBytes.equal(method, wanted) { return false }
        for param in entry.queryParams where !queryMatches(query, param) { return false }
        for field in entry.headers {
            guard let value = header(field.name), value.utf8.elementsEqual(field.value.utf8) else { return false }
        }
        return true
    }

    /// `PathPrefix` on segment boundaries: `/api` matches `/api` and `/api/x`, not `/apix`.
    /// `prefix` has no trailing `/`; empty (from `/`) matches every path.
    @inline(__always)
    private static func prefixMatches(_ path: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        if prefix.isEmpty { return true }
        guard PolicyBytes.hasPrefix(path, prefix) else { return false }
        return path.count == prefix.count || path[prefix.count] == UInt8(ascii: "/")
    }

    /// Whether the first parameter named `param.name` in `query` has exactly `param.value`
    /// (raw bytes, no percent-decoding). Absent: no match.
    private static func queryMatches(_ query: UnsafeRawBufferPointer, _ param: QueryParam) -> Bool {
        var start = 0
        while start <= query.count {
            var end = start
            while end < query.count, query[end] != UInt8(ascii: "&") { end += 1 }
            var equals = start
            while equals < end, query[equals] != UInt8(ascii: "=") { equals += 1 }
            let name = UnsafeRawBufferPointer(rebasing: query[start..<equals])
            if !name.isEmpty, PolicyBytes.equal(name, param.name) {
                let value = equals < end ? UnsafeRawBufferPointer(rebasing: query[(equals + 1)..<end]) : UnsafeRawBufferPointer(start: nil, count: 0)
                return PolicyBytes.equal(value, param.value)
            }
            start = end + 1
        }
        return false
    }
}
