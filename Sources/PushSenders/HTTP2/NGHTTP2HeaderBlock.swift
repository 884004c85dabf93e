import CNGHTTP2

/// The HEADERS block of one request as nghttp2 takes it (`nghttp2_nv` pointing into one byte
/// arena), built in storage reused for every request of a connection.
///
/// Also the outbound header check nghttp2 does not do by itself: names are lower-cased and every
/// field must pass nghttp2's own RFC 9113 validators, so a hostile value (CR, LF, NUL from a SIP
/// message) fails its request instead of reaching the server.
final class NGHTTP2HeaderBlock {
    private var bytes: [UInt8] = []
    private var fields: [(name: Range<Int>, value: Range<Int>)] = []
    private var nv: [nghttp2_nv] = []
    private let scheme: [UInt8]
    private let authority: [UInt8]

    init(scheme: String, authority: String) {
        self.scheme = Array(scheme.utf8)
        self.authority = Array(authority.utf8)
        bytes.reserveCapacity(512)
        fields.reserveCapacity(16)
        nv.reserveCapacity(16)
    }

    /// Fills the block for `request`; the problem when a field is not valid HTTP/2.
    ///
    /// Works on local copies of the arena and field list (moved out and back, so their storage
    /// is still reused): appending byte by byte to a class's stored array paid a dynamic
    /// exclusivity check per byte, which made this the event loop's largest cost per request.
    func build(_ request: HTTP2Request) -> String? {
        var bytes = self.bytes
        var fields = self.fields
        self.bytes = []
        self.fields = []
        defer {
            self.bytes = bytes
            self.fields = fields
        }
        bytes.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
        func add(_ name: StaticString, _ value: some Sequence<UInt8>) {
            let start = bytes.count
            name.withUTF8Buffer { bytes.append(contentsOf: $0) }
            let mid = bytes.count
            bytes.append(contentsOf: value)
            fields.append((start..<mid, mid..<bytes.count))
        }
        add(":method", request.method.utf8)
        add(":scheme", scheme)
        add(":authority", authority)
        add(":path", request.path.utf8)
        if !Self.check(bytes, fields[0].value, nghttp2_check_header_value) || !Self.check(bytes, fields[3].value, nghttp2_check_path) {
            return "invalid request line: \(request.method) \(request.path)"
        }
        for field in request.headers {
            guard let ranges = Self.appendChecked(name: field.name, value: field.value, to: &bytes) else {
                return "invalid header field \(field.name)"
            }
            fields.append(ranges)
        }
        if let checked = request.checkedField {
            let start = bytes.count
            bytes.append(contentsOf: checked.bytes)
            fields.append((start..<(start + checked.nameCount), (start + checked.nameCount)..<bytes.count))
        }
        if !request.body.isEmpty {
            add("content-length", String(request.body.count).utf8)
        }
        return nil
    }

    /// Appends a field as HTTP/2 sends it (name lower-cased, then value) and checks both with
    /// nghttp2's RFC 9113 validators; nil when either is invalid. One definition for per-request
    /// fields and for `HTTP2CheckedField`, which does this once for a long-lived value.
    static func appendChecked(name: String, value: String, to bytes: inout [UInt8]) -> (name: Range<Int>, value: Range<Int>)? {
        let nameStart = bytes.count
        bytes.append(contentsOf: name.utf8)
        let nameRange = nameStart..<bytes.count
        for i in nameRange where bytes[i] >= 0x41 && bytes[i] <= 0x5A { bytes[i] |= 0x20 }
        bytes.append(contentsOf: value.utf8)
        let valueRange = nameRange.upperBound..<bytes.count
        guard check(bytes, nameRange, nghttp2_check_header_name), check(bytes, valueRange, nghttp2_check_header_value) else { return nil }
        return (nameRange, valueRange)
    }

    private static func check(_ bytes: [UInt8], _ range: Range<Int>, _ validator: (UnsafePointer<UInt8>?, Int) -> Int32) -> Bool {
        bytes.withUnsafeBufferPointer { validator($0.baseAddress.map { $0 + range.lowerBound }, range.count) != 0 }
    }

    /// The `nghttp2_nv` array, valid only inside `body` (nghttp2 copies it on submit).
    func withFields<R>(_ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        var nv = self.nv
        self.nv = []
        defer { self.nv = nv }
        nv.removeAll(keepingCapacity: true)
        let fields = self.fields
        return bytes.withUnsafeMutableBufferPointer { arena in
            let base = arena.baseAddress!
            for f in fields {
                nv.append(nghttp2_nv(name: base + f.name.lowerBound, value: base + f.value.lowerBound,
                                     namelen: f.name.count, valuelen: f.value.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
            }
            return nv.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }
}
