/// Where a dead-lettered input came from.
public struct RecordSource: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// `dead-letter` (docs/contract.md §2.6): an input that could not be used, kept with its original bytes.
public struct DeadLetter: Sendable, Hashable {
    public var header: RecordHeader
    public var source: RecordSource
    /// Human-readable; names the field.
    public var error: String
    public var key: [UInt8]?
    public var value: [UInt8]?
    /// Original size of the key when `key` holds only its first bytes (see `capturing`).
    public var keySize: Int?
    /// Original size of the value when `value` holds only its first bytes.
    public var valueSize: Int?

    public init(header: RecordHeader, source: RecordSource, error: String, key: [UInt8]?, value: [UInt8]?,
                keySize: Int? = nil, valueSize: Int? = nil) {
        self.header = header
        self.source = source
        self.error = error
        self.key = key
        self.value = value
        self.keySize = keySize
        self.valueSize = valueSize
    }

    /// Largest original key / value a dead letter carries whole: base64 makes bytes 4/3 larger,
    /// and the dead letter itself must stay within the 64 KiB record limit.
    public static let maxKeyBytes = 1024
    public static let maxValueBytes = 44 * 1024
    /// Longest `error` kept (up to 4 UTF-8 bytes each): with the key and value above and the
    /// envelope, a dead letter is at most about 63 KiB.
    public static let maxErrorScalars = 256

    /// A dead letter for an input, keeping its bytes whole when they fit and otherwise their
    /// first bytes plus the original size; `source` always locates the complete input.
    /// (An oversized input is one reason to dead-letter, so it cannot be copied whole.)
    public static func capturing(header: RecordHeader, source: RecordSource, error: String, key: [UInt8]?, value: [UInt8]?) -> DeadLetter {
        DeadLetter(
            header: header, source: source,
            // Error texts quote what they reject; bounded so the record stays within 64 KiB.
            error: error.unicodeScalars.count > maxErrorScalars
                ? String(String.UnicodeScalarView(error.unicodeScalars.prefix(maxErrorScalars))) + "…" : error,
            key: key.map { Array($0.prefix(maxKeyBytes)) }, value: value.map { Array($0.prefix(maxValueBytes)) },
            keySize: key.flatMap { $0.count > maxKeyBytes ? $0.count : nil },
            valueSize: value.flatMap { $0.count > maxValueBytes ? $0.count : nil })
    }
}
