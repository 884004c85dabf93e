import Foundation
import Kafka

/// Everything a benchmark run measured, with the machine and inputs, as JSON and as a table.
struct BenchResults {
    enum Value: Encodable {
        case int(Int), bool(Bool), string(String), double(Double)

        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .int(let v): try c.encode(v)
            case .bool(let v): try c.encode(v)
            case .string(let v): try c.encode(v)
            case .double(let v): try c.encode(v)
            }
        }
    }

    struct Figure: Encodable {
        var name: String
        var unit: String
        var value: Double
        /// The reference measured in the same run, when this figure has one.
        var reference: Double?
        var ratio: Double?
        var note: String
        var samples: [Double]?
    }

    struct Machine: Encodable {
        var cpus: Int
        var cpuModel: String
        var memoryBytes: UInt64
        var os: String
        var librdkafka: String
        var date: String

        static func current() -> Machine {
            let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
            let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
                .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
            return Machine(
                cpus: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model,
                memoryBytes: ProcessInfo.processInfo.physicalMemory,
                os: ProcessInfo.processInfo.operatingSystemVersionString, librdkafka: librdkafkaVersion,
                date: ISO8601DateFormatter().string(from: Date()))
        }
    }

    var machine: Machine
    var inputs: [String: Value]
    var figures: [Figure] = []

    init(machine: Machine, inputs: [String: Value]) {
        self.machine = machine
        self.inputs = inputs
    }

    mutating func add(_ name: String, unit: String, value: Double, reference: Double?, note: String, samples: [Double]? = nil) {
        figures.append(Figure(name: name, unit: unit, value: value, reference: reference,
                              ratio: reference.map { value / $0 }, note: note, samples: samples))
    }

    func table() -> String {
        var lines = ["figure                       value              vs reference   note"]
        for f in figures {
            let value = String(format: "%.0f %@", f.value, f.unit)
            let ratio = f.ratio.map { String(format: "%.2f×", $0) } ?? "-"
            lines.append("\(f.name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(value.padding(toLength: 18, withPad: " ", startingAt: 0)) \(ratio.padding(toLength: 14, withPad: " ", startingAt: 0)) \(f.note)")
        }
        return lines.joined(separator: "\n")
    }

    func write(to path: String) throws {
        struct File: Encodable {
            var machine: Machine
            var inputs: [String: Value]
            var figures: [Figure]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(File(machine: machine, inputs: inputs, figures: figures))
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }
}
