/// A SIP name-addr as the router saw it in From or To.
public struct SIPAddress: Sendable, Hashable {
    public var uri: String
    public var displayName: String?
    public var tag: String?

    public init(uri: String, displayName: String? = nil, tag: String? = nil) {
        self.uri = uri
        self.displayName = displayName
        self.tag = tag
    }
}

/// SIP headers copied by the router. Names compare case-insensitively (RFC 3261 §7.3.5).
public struct SIPHeaders: Sendable, Hashable {
    /// Header fields in the order the record listed them; names as written.
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    /// The first value of the header `name`, compared case-insensitively.
    public subscript(name: String) -> String? {
        for field in fields where field.name.caseInsensitiveEquals(name) {
            return field.value
        }
        return nil
    }

    public mutating func append(name: String, value: String) {
        fields.append((name, value))
    }

    public static func == (lhs: SIPHeaders, rhs: SIPHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for field in fields {
            hasher.combine(field.name)
            hasher.combine(field.value)
        }
    }
}

extension String {
    /// ASCII case-insensitive comparison, enough for SIP header names and tokens.
    /// Runs for every URI parameter and header lookup of every push decision, so it compares
    /// contiguous UTF-8 (native strings are) rather than through generic iterators.
    package func caseInsensitiveEquals(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        let fast = utf8.withContiguousStorageIfAvailable { a in
            other.utf8.withContiguousStorageIfAvailable { b in Self.asciiCaseInsensitiveEqual(a, b) }
        }
        if let result = fast ?? nil { return result }
        return Self.asciiCaseInsensitiveEqual(Array(utf8), Array(other.utf8))
    }

    private static func asciiCaseInsensitiveEqual<C: RandomAccessCollection<UInt8>>(_ a: C, _ b: C) -> Bool where C.Index == Int {
        for i in a.indices {
            let x = a[i], y = b[i - a.startIndex + b.startIndex]
            guard x != y else { continue }
            let lx = (x >= 65 && x <= 90) ? x | 0x20 : x
            let ly = (y >= 65 && y <= 90) ? y | 0x20 : y
            if lx != ly { return false }
        }
        return true
    }
}
