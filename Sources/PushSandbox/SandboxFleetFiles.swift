public import Foundation

/// The files a worker needs to talk to the sandbox providers, written into one directory:
/// the CA (`tls-ca-file`), APNs client certificates named as Flexisip expects
/// (`apple-certificate-dir`), and a Firebase service account whose `token_uri` is the FCM
/// sandbox. Shared by `pushfleet dev` and the end-to-end tests, so both run the same setup.
public struct SandboxFleetFiles: Sendable {
    /// Firebase project number that selects the service account (`pn-param` of Android contacts).
    public static let firebaseProject = "123456789"
    /// The bundle of the sample iOS app (`pn-param=ABCD1234.<bundle>`).
    public static let appleBundle = "org.linphone.phone"

    public let directory: URL
    public var caFile: String { directory.appendingPathComponent("ca.pem").path }
    public var certificateDirectory: String { directory.appendingPathComponent("apn").path }
    public var serviceAccountFile: String { directory.appendingPathComponent("service-account.json").path }
    public var configFile: String { directory.appendingPathComponent("flexisip.conf").path }

    /// Writes the CA, certificates for the sample app (prod, dev, VoIP) and the service account.
    public init(directory: URL, ca: SandboxCertificateAuthority, fcm: FCMSandbox) throws {
        self.directory = directory
        let apn = directory.appendingPathComponent("apn")
        try FileManager.default.createDirectory(at: apn, withIntermediateDirectories: true)
        try ca.writeCertificate(to: caFile)
        let bundle = Self.appleBundle
        for (file, topic) in [("\(bundle).dev", bundle), ("\(bundle).voip.dev", "\(bundle).voip"),
                              ("\(bundle).prod", bundle), ("\(bundle).voip.prod", "\(bundle).voip")] {
            try ca.issueClientCredential(topic: topic).combinedPEM
                .write(to: apn.appendingPathComponent("\(file).pem"), atomically: true, encoding: .utf8)
        }
        try fcm.makeServiceAccount(projectId: "pushfleet-sandbox").write(toFile: serviceAccountFile, atomically: true, encoding: .utf8)
    }

    /// A Flexisip-format config pointing a worker at `bootstrap` and the sandboxes, with other
    /// Flexisip sections present as in a real flexisip.conf. Values in the dictionaries override.
    public func writeConfig(
        bootstrap: String, apns: APNsSandbox, fcm: FCMSandbox, pushNotification: [String: String] = [:],
        router: [String: String] = [:], kafka: [String: String] = [:], pushfleet: [String: String] = [:]
    ) throws {
        func section(_ values: [String: String]) -> String {
            values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        }
        let push = ["enabled": "true", "apple-certificate-dir": certificateDirectory,
                    "firebase-service-accounts": "\(Self.firebaseProject):\(serviceAccountFile)"].merging(pushNotification) { $1 }
        let kafkaValues = ["bootstrap-servers": bootstrap, "rdkafka.fetch.wait.max.ms": "5", "rdkafka.session.timeout.ms": "6000",
                           "rdkafka.heartbeat.interval.ms": "200", "rdkafka.max.poll.interval.ms": "20000",
                           "rdkafka.topic.metadata.refresh.interval.ms": "1000", "rdkafka.reconnect.backoff.max.ms": "500"].merging(kafka) { $1 }
        let fleet = ["apple-push-uri": apns.baseURL, "apple-dev-push-uri": apns.baseURL, "firebase-uri": fcm.baseURL,
                     // The sandboxes are on loopback: a developer's HTTPS_PROXY must not carry them.
                     "tls-ca-file": caFile, "metrics-listen": "", "https-proxy": "none"].merging(pushfleet) { $1 }
        let text = """
            # Written by PushFleet for the sandbox providers. Other Flexisip sections are ignored.
            [global]
            transports=sip:*

            [module::PushNotification]
            \(section(push))

            [module::Router]
            \(section(router))

            [kafka]
            \(section(kafkaValues))

            [pushfleet]
            \(section(fleet))

            """
        try text.write(toFile: configFile, atomically: true, encoding: .utf8)
    }
}
