/// JSON body of `dead-letter` (docs/contract.md §2.6); `key`/`value` are base64 and absent for null;
/// `keySize`/`valueSize` give the original size when only the first bytes are carried.
extension DeadLetter {
    init(header: RecordHeader, _ r: JSONObjectReader) throws(ContractError) {
        let source = try r.object("source")
        self.init(
            header: header,
            source: RecordSource(
                topic: try source.string("topic"),
                partition: Int32(try source.integer("partition", in: 0...Int64(Int32.max))),
                offset: try source.integer("offset", in: 0...Int64.max)),
            error: try r.string("error"),
            key: try Self.base64(r, "key"),
            value: try Self.base64(r, "value"),
            keySize: try r.optionalInteger("keySize", in: Int64(DeadLetter.maxKeyBytes + 1)...Int64(Int32.max)).map { Int($0) },
            valueSize: try r.optionalInteger("valueSize", in: Int64(DeadLetter.maxValueBytes + 1)...Int64(Int32.max)).map { Int($0) })
    }

    private static func base64(_ r: JSONObjectReader, _ name: StaticString) throws(ContractError) -> [UInt8]? {
        guard let text = try r.optionalString(name) else { return nil }
        guard let bytes = Base64.decode(text) else {
            throw ContractError(field: "\(name)", problem: "not valid base64 (standard alphabet, padded)")
        }
        return bytes
    }
}

extension RecordEncoder {
    public static func encode(_ letter: DeadLetter) -> [UInt8] {
        var w = JSONWriter(capacity: 256 + (letter.value?.count ?? 0) * 4 / 3)
        w.beginObject()
        w.recordHeader(type: "dead-letter", letter.header)
        w.key("source")
        w.beginObject()
        w.member("topic", letter.source.topic)
        w.member("partition", letter.source.partition)
        w.member("offset", letter.source.offset)
        w.endObject()
        w.member("error", letter.error)
        w.member("key", letter.key.map(Base64.encode))
        w.member("value", letter.value.map(Base64.encode))
        w.member("keySize", letter.keySize)
        w.member("valueSize", letter.valueSize)
        w.endObject()
        return w.bytes
    }
}
