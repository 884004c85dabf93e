#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Typed access to the members of one JSON object on a tape, with errors naming the JSON path.
///
/// A JSON object whose members are read by name must not repeat a name ("duplicate member"):
/// with two `callId`s, which one the router meant is a guess we refuse to make. (RFC 8259 only
/// says names SHOULD be unique.) Objects read as a list, like `headers`, keep every member.
package struct JSONObjectReader {
    package let tape: JSONTape
    package let index: Int
    /// Path of this object, `""` for the record itself.
    package let path: String
    /// Member fingerprints with their key's tape index, for lookups without touching the name
    /// bytes: in record order for up to `linearMembers` members (a scan of a few integers beats
    /// any search), sorted by (fingerprint, name bytes) above that, for binary search and for
    /// finding duplicates in O(m log m) even when hostile names share a fingerprint. Empty for
    /// objects of at most `tinyMembers` members, which are scanned without allocating.
    private var members: [Member] = []
    private var layout = Layout.tiny
    private static let tinyMembers = 4
    private static let linearMembers = 16

    private enum Layout { case tiny, linear, sorted }

    private struct Member {
        var fingerprint: UInt64
        /// Tape index of the member's name; its value follows.
        var key: Int32
    }

    /// `indexed: false` skips building the lookup index (for objects only read by `stringMembers`).
    package init(_ tape: JSONTape, at index: Int, path: String, indexed: Bool = true) throws(ContractError) {
        guard tape[index].kind == .object else {
            throw ContractError(field: path.isEmpty ? "$" : path, problem: "expected object, got \(tape[index].kind.name)")
        }
        self.tape = tape
        self.index = index
        self.path = path
        if indexed { try buildIndex() }
    }

    package func path(of name: StaticString) -> String {
        path.isEmpty ? "\(name)" : "\(path).\(name)"
    }

    private mutating func buildIndex() throws(ContractError) {
        let end = Int(tape[index].next)
        var count = 0
        var k = index + 1
        while k < end {
            count += 1
            k = Int(tape[k + 1].next)
        }
        if count <= Self.tinyMembers {
            try checkTinyObject(end: end)
            return
        }
        var members: [Member] = []
        members.reserveCapacity(count)
        k = index + 1
        while k < end {
            members.append(Member(fingerprint: fingerprint(ofKey: k), key: Int32(k)))
            k = Int(tape[k + 1].next)
        }
        defer { self.members = members }
        if count <= Self.linearMembers {
            layout = .linear
            for a in 1..<count {
                for b in 0..<a where members[a].fingerprint == members[b].fingerprint {
                    if compareNames(members[a].key, members[b].key) == 0 { throw duplicateError(members[a].key) }
                }
            }
            return
        }
        layout = .sorted
        members.sort { isOrdered($0, $1) }
        for m in 1..<count where members[m].fingerprint == members[m - 1].fingerprint {
            if compareNames(members[m].key, members[m - 1].key) == 0 { throw duplicateError(members[m].key) }
        }
    }

    /// Pairwise duplicate check of an object with a handful of members.
    private func checkTinyObject(end: Int) throws(ContractError) {
        var k = index + 1
        while k < end {
            let fp = fingerprint(ofKey: k)
            var earlier = index + 1
            while earlier < k {
                if fingerprint(ofKey: earlier) == fp, compareNames(Int32(earlier), Int32(k)) == 0 {
                    throw duplicateError(Int32(k))
                }
                earlier = Int(tape[earlier + 1].next)
            }
            k = Int(tape[k + 1].next)
        }
    }

    private func duplicateError(_ key: Int32) -> ContractError {
        let name = fieldName(tape.string(tape[Int(key)]))
        return ContractError(field: path.isEmpty ? name : "\(path).\(name)", problem: "duplicate member")
    }

    /// Length and first six bytes: distinct for every name the contract uses.
    private static func fingerprint(_ name: UnsafeRawBufferPointer) -> UInt64 {
        var fp = UInt64(min(name.count, 0xFFFF)) << 48
        for j in 0..<min(name.count, 6) { fp |= UInt64(name[j]) << (40 - 8 * j) }
        return fp
    }

    /// The fingerprint of the name at tape index `k`, without a closure for unescaped names.
    /// A name is followed in the input by at least `":`, a value and a closing brace, so for
    /// names of four bytes or more an 8-byte load stays inside the input; one load and a mask
    /// replace the byte loop, giving the same value as `fingerprint(_:)`.
    @inline(__always)
    private func fingerprint(ofKey k: Int) -> UInt64 {
        let token = tape[k]
        guard !token.flag else { return tape.withStringBytes(token, Self.fingerprint) }
        let start = Int(token.start), length = Int(token.end - token.start)
        guard length >= 4, start + 8 <= tape.bytes.count else { return Self.fingerprint(tape.rawBytes(token)) }
        let first8 = UInt64(bigEndian: tape.bytes.loadUnaligned(fromByteOffset: start, as: UInt64.self))
        let kept = min(length, 6)
        let first6 = (first8 >> 16) & ~((1 << UInt64(8 * (6 - kept))) &- 1)
        return UInt64(min(length, 0xFFFF)) << 48 | first6
    }

    private func isOrdered(_ a: Member, _ b: Member) -> Bool {
        a.fingerprint != b.fingerprint ? a.fingerprint < b.fingerprint : compareNames(a.key, b.key) < 0
    }

    private func compareNames(_ a: Int32, _ b: Int32) -> Int {
        tape.withStringBytes(tape[Int(a)]) { x in tape.withStringBytes(tape[Int(b)]) { y in Self.compare(x, y) } }
    }

    private static func compare(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Int {
        let n = min(x.count, y.count)
        guard n > 0, let a = x.baseAddress, let b = y.baseAddress else { return x.count - y.count }
        let order = memcmp(a, b, n)
        return order != 0 ? Int(order) : x.count - y.count
    }

    /// Whether the name at tape index `k` (whose fingerprint matched) is `wanted`.
    @inline(__always)
    private func keyEquals(_ k: Int, _ wanted: UnsafeRawBufferPointer) -> Bool {
        let token = tape[k]
        guard !token.flag else { return tape.withStringBytes(token) { Self.compare($0, wanted) == 0 } }
        return Self.compare(tape.rawBytes(token), wanted) == 0
    }

    /// Tape index of the value of member `name`, nil when absent.
    package func member(_ name: StaticString) -> Int? {
        let wanted = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        let fp = Self.fingerprint(wanted)
        switch layout {
        case .tiny:
            let end = Int(tape[index].next)
            var k = index + 1
            while k < end {
                if fingerprint(ofKey: k) == fp, keyEquals(k, wanted) { return k + 1 }
                k = Int(tape[k + 1].next)
            }
            return nil
        case .linear:
            return members.withUnsafeBufferPointer { members in
                for m in members where m.fingerprint == fp {
                    if keyEquals(Int(m.key), wanted) { return Int(m.key) + 1 }
                }
                return nil
            }
        case .sorted:
            var low = 0, high = members.count
            while low < high {
                let mid = (low + high) / 2
                if members[mid].fingerprint < fp { low = mid + 1 } else { high = mid }
            }
            while low < members.count, members[low].fingerprint == fp {
                let key = Int(members[low].key)
                if keyEquals(key, wanted) { return key + 1 }
                low += 1
            }
            return nil
        }
    }

    private func required(_ name: StaticString) throws(ContractError) -> Int {
        guard let k = member(name) else { throw ContractError(field: path(of: name), problem: "missing") }
        return k
    }

    private func expect(_ kind: JSONTape.Kind, _ k: Int, _ name: StaticString, _ expected: String) throws(ContractError) {
        let actual = tape[k].kind
        guard actual == kind || (kind == .true && actual == .false) else {
            throw ContractError(field: path(of: name), problem: "expected \(expected), got \(actual.name)")
        }
    }

    // MARK: Strings

    package func string(_ name: StaticString, nonEmpty: Bool = true) throws(ContractError) -> String {
        try stringValue(required(name), name, nonEmpty: nonEmpty)
    }

    package func optionalString(_ name: StaticString) throws(ContractError) -> String? {
        guard let k = member(name) else { return nil }
        return try stringValue(k, name, nonEmpty: false)
    }

    private func stringValue(_ k: Int, _ name: StaticString, nonEmpty: Bool) throws(ContractError) -> String {
        try expect(.string, k, name, "string")
        let token = tape[k]
        if nonEmpty && token.start == token.end {
            throw ContractError(field: path(of: name), problem: "must not be empty")
        }
        return tape.string(token)
    }

    /// A string whose length in Unicode scalars (JSON Schema's "characters") is within `range`.
    package func string(_ name: StaticString, characters range: ClosedRange<Int>) throws(ContractError) -> String {
        let value = try string(name, nonEmpty: false)
        let bytes = value.utf8.count
        // A scalar is 1 to 4 UTF-8 bytes, so most ids need no counting.
        if bytes >= range.lowerBound && bytes <= range.upperBound { return value }
        let count = value.unicodeScalars.count
        guard range.contains(count) else {
            throw ContractError(field: path(of: name), problem: "must be \(range.lowerBound) to \(range.upperBound) characters long, got \(count)")
        }
        return value
    }

    package func enumeration<E: RawRepresentable & CaseIterable>(_ name: StaticString, _: E.Type = E.self) throws(ContractError) -> E
    where E.RawValue == String {
        guard let value = try optionalEnumeration(name, E.self) else {
            throw ContractError(field: path(of: name), problem: "missing")
        }
        return value
    }

    package func optionalEnumeration<E: RawRepresentable & CaseIterable>(_ name: StaticString, _: E.Type = E.self) throws(ContractError) -> E?
    where E.RawValue == String {
        guard let text = try optionalString(name) else { return nil }
        guard let value = E(rawValue: text) else {
            let allowed = E.allCases.map { $0.rawValue }.joined(separator: ", ")
            throw ContractError(field: path(of: name), problem: "\(quotedForMessage(text)) is not one of \(allowed)")
        }
        return value
    }

    // MARK: Numbers, booleans, timestamps

    package func integer(_ name: StaticString, in range: ClosedRange<Int64>) throws(ContractError) -> Int64 {
        try integerValue(required(name), name, range)
    }

    package func optionalInteger(_ name: StaticString, in range: ClosedRange<Int64>) throws(ContractError) -> Int64? {
        guard let k = member(name) else { return nil }
        return try integerValue(k, name, range)
    }

    private func integerValue(_ k: Int, _ name: StaticString, _ range: ClosedRange<Int64>) throws(ContractError) -> Int64 {
        try expect(.number, k, name, "integer")
        func outside(_ got: String) -> ContractError {
            ContractError(field: path(of: name), problem: "must be an integer from \(range.lowerBound) to \(range.upperBound), got \(got)")
        }
        switch tape.integer(tape[k]) {
        case .value(let v) where range.contains(v): return v
        case .value(let v): throw outside(String(v))
        case .notInteger: throw ContractError(field: path(of: name), problem: "expected integer, got \(tape.text(tape[k]))")
        case .outOfRange: throw outside("a number out of range")
        }
    }

    package func optionalBool(_ name: StaticString) throws(ContractError) -> Bool? {
        guard let k = member(name) else { return nil }
        try expect(.true, k, name, "boolean")
        return tape[k].kind == .true
    }

    package func time(_ name: StaticString) throws(ContractError) -> EventTime {
        try timeValue(required(name), name)
    }

    package func optionalTime(_ name: StaticString) throws(ContractError) -> EventTime? {
        guard let k = member(name) else { return nil }
        return try timeValue(k, name)
    }

    private func timeValue(_ k: Int, _ name: StaticString) throws(ContractError) -> EventTime {
        try expect(.string, k, name, "string (RFC 3339 timestamp)")
        switch tape.withStringBytes(tape[k], EventTime.parseRFC3339) {
        case .success(let time): return time
        case .failure(let detail): throw ContractError.timestamp(path(of: name), detail)
        }
    }

    // MARK: Nested values

    package func object(_ name: StaticString) throws(ContractError) -> JSONObjectReader {
        let k = try required(name)
        try expect(.object, k, name, "object")
        return try JSONObjectReader(tape, at: k, path: path(of: name))
    }

    package func optionalObject(_ name: StaticString, indexed: Bool = true) throws(ContractError) -> JSONObjectReader? {
        guard let k = member(name) else { return nil }
        try expect(.object, k, name, "object")
        return try JSONObjectReader(tape, at: k, path: path(of: name), indexed: indexed)
    }

    /// Every member as name and string value, in order; repeated names are all kept.
    package func stringMembers() throws(ContractError) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        let end = Int(tape[index].next)
        var k = index + 1
        while k < end {
            let name = tape.string(tape[k])
            let value = tape[k + 1]
            guard value.kind == .string else {
                throw ContractError(field: "\(path).\(fieldName(name))", problem: "expected string, got \(value.kind.name)")
            }
            result.append((name, tape.string(value)))
            k = Int(value.next)
        }
        return result
    }
}

/// A hostile value made safe for an error message: quoted, escaped, at most 64 characters.
package func quotedForMessage(_ text: String) -> String {
    let scalars = text.unicodeScalars
    guard scalars.count > 64 else { return text.debugDescription }
    return String(String.UnicodeScalarView(scalars.prefix(64))).debugDescription + "…"
}

/// A hostile member name made safe for a JSON path: control characters escaped, at most 64 characters.
package func fieldName(_ name: String) -> String {
    let limited = name.unicodeScalars.prefix(64)
    var out = ""
    for scalar in limited {
        if scalar.value < 0x20 || scalar.value == 0x7F {
            out += scalar.escaped(asASCII: true)
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return limited.count < name.unicodeScalars.count ? out + "…" : out
}
