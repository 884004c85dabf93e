/// Writes compact JSON objects for contract records.
///
/// Strings are escaped as RFC 8259 requires (quote, backslash, control characters) and nothing
/// more: non-ASCII stays UTF-8, so SIP display names remain readable in the topic.
package struct JSONWriter {
    package private(set) var bytes: [UInt8] = []
    /// Whether the next member needs a comma before it.
    private var afterValue = false

    package init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    package mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        afterValue = false
    }

    package mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        afterValue = true
    }

    package mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        afterValue = false
    }

    package mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        afterValue = true
    }

    /// Starts the member `name`; the next call writes its value.
    package mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        afterValue = false
    }

    package mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        afterValue = false
    }

    package mutating func value(_ text: String) {
        separate()
        appendQuoted(text)
        afterValue = true
    }

    package mutating func value(_ number: Int64) {
        separate()
        bytes.append(contentsOf: String(number).utf8)
        afterValue = true
    }

    package mutating func value(_ flag: Bool) {
        separate()
        bytes.append(contentsOf: flag ? Array("true".utf8) : Array("false".utf8))
        afterValue = true
    }

    package mutating func value(_ time: EventTime) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        time.writeRFC3339(into: &bytes)
        bytes.append(UInt8(ascii: "\""))
        afterValue = true
    }

    // Member shorthands; optional members are left out when nil.

    package mutating func member(_ name: StaticString, _ text: String?) {
        guard let text else { return }
        key(name)
        value(text)
    }

    /// `Int` members (TTLs, badges) without the generic version's unspecialized
    /// `BinaryInteger` calls from other modules.
    package mutating func member(_ name: StaticString, _ number: Int?) {
        guard let number else { return }
        key(name)
        value(Int64(number))
    }

    package mutating func member<I: BinaryInteger>(_ name: StaticString, _ number: I?) {
        guard let number else { return }
        key(name)
        value(Int64(number))
    }

    package mutating func member(_ name: StaticString, _ time: EventTime?) {
        guard let time else { return }
        key(name)
        value(time)
    }

    /// The four members every record starts with (docs/contract.md §2).
    package mutating func recordHeader(type: StaticString, _ header: RecordHeader) {
        key("v")
        value(Int64(ContractVersion.current))
        key("type")
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: type.utf8Start, count: type.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        afterValue = true
        member("id", header.id)
        member("time", header.time)
    }

    private mutating func separate() {
        if afterValue { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func appendQuoted(_ text: String) {
        JSONEscaping.appendQuoted(text, to: &bytes)
    }
}
