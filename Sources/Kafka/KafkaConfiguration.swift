import CRdKafka
import Foundation
import Logging

/// Options common to every client, plus any librdkafka property by name.
///
/// Typed fields cover what PushFleet sets itself; `properties` passes anything else
/// (security, SASL, tuning) straight to librdkafka, which validates it: an unknown or invalid
/// property fails client creation with librdkafka's own message naming it.
public struct KafkaConfiguration: Sendable {
    /// `bootstrap.servers`: comma-separated `host:port` list.
    public var bootstrapServers: String
    /// `client.id`, shown in broker logs.
    public var clientId: String = "pushfleet"
    /// librdkafka properties applied after the typed ones, in order (later wins).
    public var properties: [(key: String, value: String)] = []

    public init(bootstrapServers: String, clientId: String = "pushfleet", properties: [(key: String, value: String)] = []) {
        self.bootstrapServers = bootstrapServers
        self.clientId = clientId
        self.properties = properties
    }

    /// Adds or replaces a librdkafka property.
    public mutating func set(_ key: String, _ value: String) {
        properties.removeAll { $0.key == key }
        properties.append((key, value))
    }

    /// The value a property will have, if set through `properties`.
    public func property(_ key: String) -> String? {
        properties.last { $0.key == key }?.value
    }

    /// Checks every passthrough property against librdkafka without creating a client.
    public func validate() throws(KafkaError) {
        let conf = try makeConf(defaults: [])
        rd_kafka_conf_destroy(conf)
    }

    /// Builds an `rd_kafka_conf_t`: `defaults` first (what the client kind needs), then the
    /// typed fields, then the operator's properties. The caller owns the result.
    func makeConf(defaults: [(String, String)], overrides: [(String, String)] = []) throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(RD_KAFKA_RESP_ERR__FAIL, message: "rd_kafka_conf_new failed")
        }
        var all = defaults
        all.append(("bootstrap.servers", bootstrapServers))
        all.append(("client.id", clientId))
        all.append(contentsOf: properties.map { ($0.key, $0.value) })
        all.append(contentsOf: overrides)
        for (key, value) in all {
            var errstr = [CChar](repeating: 0, count: 512)
            let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let reason = string(fromCBuffer: errstr)
                throw KafkaError.invalidProperty(key, value: value, reason: reason)
            }
        }
        rd_kafka_conf_set_log_cb(conf, kafkaLogCallback)
        return conf
    }
}

/// librdkafka's log lines go to swift-log (label `kafka`) instead of stderr, at `warning` and
/// above unless `PUSHFLEET_KAFKA_LOG_LEVEL` says otherwise (librdkafka is chatty at info).
let kafkaLogger: Logger = {
    var logger = Logger(label: "kafka")
    let env = ProcessInfo.processInfo.environment["PUSHFLEET_KAFKA_LOG_LEVEL"]
    logger.logLevel = env.flatMap(Logger.Level.init(rawValue:)) ?? .warning
    return logger
}()

private let kafkaLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    handle, level, facility, buffer in
    let name = handle.map { String(cString: rd_kafka_name($0)) } ?? "rdkafka"
    let text = buffer.map { String(cString: $0) } ?? ""
    let fac = facility.map { String(cString: $0) } ?? ""
    let logLevel: Logger.Level =
        switch level {
        case ...3: .error
        case 4: .warning
        case 5, 6: .info
        default: .debug
        }
    kafkaLogger.log(level: logLevel, "\(text)", metadata: ["client": "\(name)", "facility": "\(fac)"])
}

/// Creates an `rd_kafka_t`, taking ownership of `conf` whatever happens.
func makeHandle(_ type: rd_kafka_type_t, conf: OpaquePointer) throws(KafkaError) -> OpaquePointer {
    var errstr = [CChar](repeating: 0, count: 512)
    guard let handle = rd_kafka_new(type, conf, &errstr, errstr.count) else {
        rd_kafka_conf_destroy(conf)
        let reason = string(fromCBuffer: errstr)
        throw KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, message: "cannot create Kafka client: \(reason)")
    }
    return handle
}

/// The NUL-terminated text librdkafka wrote into an `errstr` buffer.
func string(fromCBuffer buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Version of the librdkafka library in use (e.g. `2.0.2`), for logs and benchmark records.
public var librdkafkaVersion: String { String(cString: rd_kafka_version_str()) }
