import Foundation
import Testing
@testable import PushContract

/// The codecs accept exactly the schema examples under `valid/` and reject every one under `invalid/`.
@Suite struct SchemaExamplesTests {
    static let examples: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("schemas/examples")

    static func files(_ kind: String) -> [String] {
        let types = (try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []
        return types.sorted().flatMap { type in
            let dir = examples.appendingPathComponent("\(type)/\(kind)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            return names.filter { $0.hasSuffix(".json") }.sorted().map { "\(type)/\(kind)/\($0)" }
        }
    }

    static func load(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: examples.appendingPathComponent(path)))
    }

    @Test func everyRecordTypeHasExamples() {
        let types = Set(Self.files("valid").map { $0.prefix { $0 != "/" } })
        #expect(types == Set(RecordType.allCases.map { Substring($0.rawValue) }))
        #expect(Self.files("invalid").count >= 6 * 5)
    }

    @Test(arguments: files("valid"))
    func validExampleDecodesWithItsTypeAndRoundTrips(path: String) throws {
        if path.hasPrefix("push.schedule/") {
            // Worker state has its own entry point and is refused where contract records are read.
            let schedule = try RecordDecoder.decodeSchedule(Self.load(path))
            #expect(try RecordDecoder.decodeSchedule(RecordEncoder.encode(schedule)) == schedule)
            #expect(throws: ContractError.self) { try RecordDecoder.decode(Self.load(path)) }
            return
        }
        let record = try RecordDecoder.decode(Self.load(path))
        let type = switch record {
        case .routerEvent(let e): e.type
        case .pushOutcome: "push.outcome"
        case .deadLetter: "dead-letter"
        }
        #expect(path.hasPrefix(type + "/"))
        #expect(try RecordDecoder.decode(RecordEncoder.encode(record)) == record)
    }

    @Test(arguments: files("invalid"))
    func invalidExampleIsRejected(path: String) throws {
        #expect(throws: ContractError.self) { try RecordDecoder.decode(Self.load(path)) }
        if path.hasPrefix("push.schedule/") {
            #expect(throws: ContractError.self) { try RecordDecoder.decodeSchedule(Self.load(path)) }
        }
    }
}
