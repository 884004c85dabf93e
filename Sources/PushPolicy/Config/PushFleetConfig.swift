import Foundation

/// The whole configuration of a worker (docs/contract.md §3), typed and validated.
///
/// Loaded from a Flexisip-format INI file, so an operator can point a worker at an existing
/// `flexisip.conf`: sections other than the four below are ignored, and so are the routing keys
/// of `[module::Router]`.
public struct PushFleetConfig: Sendable, Hashable {
    public var pushNotification = PushNotificationOptions()
    public var router = RouterOptions()
    public var kafka = KafkaOptions()
    public var pushfleet = PushFleetOptions()
    /// Non-fatal findings (Flexisip options PushFleet ignores, keys outside sections, likely
    /// section-name typos), each one line naming where it is.
    public var warnings: [String] = []

    public init() {}

    /// Largest config file `load(path:)` reads; a config is a few KiB, a bigger file is a mistake.
    public static let maxFileSize = 16 << 20

    /// Parses and validates `text`, then applies `overrides` (`section/key=value`, as Flexisip's
    /// `--set`, e.g. `module::PushNotification/timeout=5`), which win over the file.
    ///
    /// `${NAME}` in a value read by PushFleet is replaced by the variable `NAME` of `environment`
    /// (so a secret never needs to be in the file or on the command line); `$${` keeps a literal
    /// `${`. An unset variable is an error naming the key and the variable. `environment` also
    /// gives `HTTPS_PROXY` (when `https-proxy` is empty) and `NO_PROXY` (`pushfleet.outboundProxy`).
    public static func load(text: String, overrides: [String] = [],
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> PushFleetConfig {
        try load(text: text, overrides: overrides, path: nil, environment: environment)
    }

    /// Reads the file at `path` (UTF-8), then as `load(text:overrides:)`; errors name the file.
    public static func load(path: String, overrides: [String] = [],
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> PushFleetConfig {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError(path: path, problem: "cannot read config file: no such file")
        }
        guard !isDirectory.boolValue else {
            throw ConfigError(path: path, problem: "cannot read config file: it is a directory")
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.read(upToCount: maxFileSize + 1) ?? Data()
        } catch {
            throw ConfigError(path: path, problem: "cannot read config file: \(error.localizedDescription)")
        }
        guard data.count <= maxFileSize else {
            throw ConfigError(path: path, problem: "config file is larger than \(maxFileSize) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(path: path, problem: "config file is not valid UTF-8")
        }
        return try load(text: text, overrides: overrides, path: path, environment: environment)
    }

    /// Fails when something the worker cannot run without is missing (`config check` reports it;
    /// `config dump` and tests can still load a partial config).
    public func checkWorkerRequirements() throws(ConfigError) {
        guard kafka.bootstrapServers != nil else {
            throw ConfigError(
                section: ConfigSchema.kafka, key: "bootstrap-servers",
                problem: "required by the worker: set it to the Kafka brokers, e.g. bootstrap-servers=kafka1:9092,kafka2:9092")
        }
    }

    static func load(text: String, overrides: [String], path: String?, environment: [String: String]) throws(ConfigError) -> PushFleetConfig {
        var loader = ConfigLoader(path: path, environment: environment)
        do {
            try loader.readFile(text)
            for override in overrides { try loader.applyOverride(override) }
            try loader.checkConsistency()
            try loader.resolveProxy()
        } catch var error {
            if error.path == nil, case .line = error.location { error.path = path }
            throw error
        }
        return loader.config
    }
}

/// Applies INI entries and overrides to a config, remembering where each key was set so that
/// cross-field errors can point at it.
struct ConfigLoader {
    let path: String?
    /// Where `${NAME}` in values is looked up.
    let environment: [String: String]
    var config = PushFleetConfig()
    /// `section/key` (lower-cased) → where its effective value came from.
    var origins: [String: ConfigError.Location] = [:]

    init(path: String?, environment: [String: String] = [:]) {
        self.path = path
        self.environment = environment
    }

    /// `value` with every `${NAME}` replaced from the environment (`$${` is a literal `${`).
    /// Applied only to keys PushFleet reads, so a Flexisip file's other sections are left alone.
    func expand(_ value: String, section: String, key: String, at location: ConfigError.Location) throws(ConfigError) -> String {
        guard value.contains("${") else { return value }
        var out = ""
        var rest = Substring(value)
        while let start = rest.range(of: "${") {
            if rest[..<start.lowerBound].hasSuffix("$") {
                out += rest[..<rest.index(before: start.lowerBound)] + "${"
                rest = rest[start.upperBound...]
                continue
            }
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw ConfigError(location: location, section: section, key: key,
                                  problem: "unterminated ${ in the value: write ${NAME}, or $${ for a literal ${")
            }
            let name = String(rest[start.upperBound..<end])
            guard !name.isEmpty, name.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "_") }) else {
                throw ConfigError(location: location, section: section, key: key,
                                  problem: "${\(ConfigText.display(name))} is not an environment variable name (letters, digits, _)")
            }
            guard let found = environment[name] else {
                throw ConfigError(location: location, section: section, key: key,
                                  problem: "environment variable \(name) is not set (the value refers to ${\(name)})")
            }
            out += found
            rest = rest[rest.index(after: end)...]
        }
        return out + rest
    }

    mutating func readFile(_ text: String) throws(ConfigError) {
        let ini = try FlexisipINI.parse(text)
        for section in ini.sections {
            guard let spec = ConfigSchema.section(section.name) else {
                if section.name.isEmpty {
                    if let line = section.malformedLines.first { throw malformed(line) }
                    for entry in section.entries {
                        warn(ConfigError(location: .line(entry.line), key: entry.key,
                                         problem: "\(ConfigText.display(entry.key)) is outside any section, ignored"))
                    }
                } else if let near = ConfigText.nearest(to: section.name, in: ConfigSchema.sections.map(\.name), limit: 2) {
                    // Tight limit: a real flexisip.conf has many sections that merely look alike.
                    warn(ConfigError(location: .line(section.line),
                                     problem: "section [\(ConfigText.display(section.name))] is ignored; did you mean [\(near)]?"))
                }
                continue
            }
            if let line = section.malformedLines.first { throw malformed(line) }
            for entry in section.entries {
                try apply(spec, key: entry.key, value: entry.value, at: .line(entry.line))
            }
        }
    }

    func malformed(_ line: Int) -> ConfigError {
        ConfigError(location: .line(line), problem: "expected [section], key=value or a # comment")
    }

    /// `section/key=value`; the section may contain `::` but not `/`.
    mutating func applyOverride(_ argument: String) throws(ConfigError) {
        let location = ConfigError.Location.override(argument)
        guard let equal = argument.firstIndex(of: "="),
            case let path = argument[..<equal], let slash = path.firstIndex(of: "/"),
            !path[path.index(after: slash)...].contains("/"),
            case let section = path[..<slash].trimmingASCIIWhitespace(), !section.isEmpty,
            case let key = path[path.index(after: slash)...].trimmingASCIIWhitespace(), !key.isEmpty
        else {
            throw ConfigError(location: location, problem: "expected section/key=value, e.g. module::PushNotification/timeout=5")
        }
        let value = argument[argument.index(after: equal)...].trimmingASCIIWhitespace()
        if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw ConfigError(location: location, problem: "value contains a control character")
        }
        guard let spec = ConfigSchema.section(section) else {
            warn(ConfigError(location: location, problem: "section [\(ConfigText.display(section))] is not read by PushFleet, ignored"))
            return
        }
        try apply(spec, key: String(key), value: String(value), at: location)
    }

    mutating func apply(_ spec: SectionSpec, key: String, value raw: String, at location: ConfigError.Location) throws(ConfigError) {
        if let option = spec.option(key) {
            let value = try expand(raw, section: spec.name, key: option.key, at: location)
            do {
                try option.apply(&config, value)
            } catch {
                throw ConfigError(location: location, section: spec.name, key: option.key,
                                  value: option.displayed(value), problem: error.message)
            }
            origins["\(spec.name)/\(option.key)".lowercased()] = location
            return
        }
        if spec.acceptsRdkafka, key.utf8.count > 8, ConfigText.sameName(key.prefix(8), "rdkafka.") {
            try applyRdkafka(property: String(key.dropFirst(8)), value: expand(raw, section: spec.name, key: key, at: location), at: location)
            return
        }
        if let known = spec.flexisipOnly.first(where: { ConfigText.sameName($0.key, key) }) {
            warn(ConfigError(location: location, section: spec.name, key: known.key,
                             problem: "Flexisip option not implemented by PushFleet, ignored (\(known.reason))"))
            return
        }
        if spec.ignoresOtherKeys { return }
        let candidates = spec.options.map(\.key) + spec.flexisipOnly.map(\.key)
        let hint = ConfigText.nearest(to: key, in: candidates).map { " (did you mean \($0)?)" } ?? ""
        throw ConfigError(location: location, section: spec.name, key: key,
                          problem: "unknown option\(hint); see docs/configuration.md")
    }

    mutating func applyRdkafka(property named: String, value given: String, at location: ConfigError.Location) throws(ConfigError) {
        var property = named, value = given
        // `rdkafka.<property>-file=PATH`: the value is the file's content (a mounted Secret);
        // librdkafka's own names never end in `-file`.
        if named.lowercased().hasSuffix("-file") {
            property = String(named.dropLast(5))
            value = try Self.secretFile(given, key: "rdkafka." + named, at: location)
        }
        let key = "rdkafka." + property
        if let own = ConfigSchema.reservedRdkafka[property.lowercased()] {
            throw ConfigError(location: location, section: ConfigSchema.kafka, key: key,
                              problem: "set by [kafka] \(own), not by a passthrough property")
        }
        guard property.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") }) else {
            throw ConfigError(location: location, section: ConfigSchema.kafka, key: key,
                              problem: "not a librdkafka property name (letters, digits, . and _)")
        }
        if let index = config.kafka.rdkafka.firstIndex(where: { $0.0 == property }) {
            config.kafka.rdkafka[index].1 = value
        } else {
            config.kafka.rdkafka.append((property, value))
        }
    }

    /// The content of a secret file, without its trailing newline (as `kubectl create secret
    /// --from-file` and most editors leave one).
    static func secretFile(_ path: String, key: String, at location: ConfigError.Location) throws(ConfigError) -> String {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 64 << 10,
              let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(location: location, section: ConfigSchema.kafka, key: key, value: ConfigText.display(path),
                              problem: "cannot read the file (it must exist, be readable, UTF-8 and at most 64 KiB)")
        }
        var content = Substring(text)
        while content.last == "\n" || content.last == "\r" { content = content.dropLast() }
        return String(content)
    }

    /// Rules that involve more than one key; run once everything is applied.
    func checkConsistency() throws(ConfigError) {
        let push = config.pushNotification
        if let both = push.firebaseProjectInBothLists {
            let key = "firebase-service-accounts"
            throw ConfigError(
                location: origins["\(ConfigSchema.pushNotification)/\(key)".lowercased()],
                section: ConfigSchema.pushNotification, key: key,
                value: ConfigText.display(ConfigSchema.pairs(push.firebaseServiceAccounts)),
                problem: "project \(both) is also in firebase-projects-api-keys; "
                    + "list each project once (FCM v1 here, or legacy there)")
        }
        if let cleartext = config.cleartextEndpoint {
            throw ConfigError(
                location: origins["\(cleartext.section)/\(cleartext.key)".lowercased()], section: cleartext.section,
                key: cleartext.key, value: ConfigText.display(cleartext.value), problem: CleartextEndpoint.problem)
        }
        let kafka = config.kafka
        let topics = [
            ("events-topic", kafka.eventsTopic), ("registrations-topic", kafka.registrationsTopic),
            ("state-topic", kafka.stateTopic), ("outcomes-topic", kafka.outcomesTopic),
            ("dead-letter-topic", kafka.deadLetterTopic),
        ]
        for (index, (key, topic)) in topics.enumerated() {
            if let other = topics[..<index].first(where: { $0.1 == topic }) {
                throw ConfigError(
                    location: origins["\(ConfigSchema.kafka)/\(key)"] ?? origins["\(ConfigSchema.kafka)/\(other.0)"],
                    section: ConfigSchema.kafka, key: key, value: ConfigText.display(topic),
                    problem: "same topic as \(other.0); the five topics must be distinct")
            }
        }
    }

    /// `https-proxy`, or the environment's `HTTPS_PROXY` when it is empty, with `NO_PROXY`.
    /// The environment is the one given to the loader: PushPolicy reads no process state itself.
    mutating func resolveProxy() throws(ConfigError) {
        let key = "https-proxy"
        do throws(ProxyParseError) {
            config.pushfleet.outboundProxy = try OutboundProxy.resolve(
                configured: config.pushfleet.outboundProxy, direct: config.pushfleet.httpsProxy == OutboundProxy.none, environment: environment)
        } catch {
            throw ConfigError(location: origins["\(ConfigSchema.pushfleet)/\(key)"], section: ConfigSchema.pushfleet, key: key,
                              problem: error.message)
        }
    }

    mutating func warn(_ finding: ConfigError) {
        var finding = finding
        if case .line = finding.location { finding.path = path }
        config.warnings.append(finding.description)
    }
}
