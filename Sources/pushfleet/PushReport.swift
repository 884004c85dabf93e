import Foundation
import PushContract
import PushPolicy
import PushSenders

/// What `pushfleet push` prints, on stdout: a label column, then the value; continuation lines
/// indented under the value. Provider text is escaped (no control characters reach the
/// terminal) and bodies are cut at 4 KiB.
struct PushReport {
    private static let labelWidth = 11
    private static let bodyLimit = 4096

    func line(_ label: String, _ text: String) {
        print(label.padding(toLength: Self.labelWidth, withPad: " ", startingAt: 0) + text)
    }

    func more(_ text: String) {
        print(String(repeating: " ", count: Self.labelWidth) + text)
    }

    func device(_ r: PushRequest, asked: PushType, params: PushParameters) {
        let d = r.destination
        line("device", "pn-provider=\(printable(d.provider.rawValue)) pn-param=\(printable(d.param)) pn-prid=\(printable(d.prid))"
             + (params.isLegacy ? " (from legacy pn-type/pn-tok/app-id)" : ""))
        var type = "\(r.pushType.rawValue) to token \(printable(d.token))"
        if r.pushType != asked {
            type += " (asked \(asked.rawValue): the worker sends this device a \(r.pushType.rawValue) push instead)"
        }
        line("push", type + ", TTL \(r.ttl) s")
    }

    func credential(_ credential: SenderCredential?, request r: PushRequest, config: PushFleetConfig) {
        let push = config.pushNotification
        let d = r.destination
        let key = d.apnsCertificateKey ?? ""
        switch credential {
        case .apnsCertificate(let c)?:
            line("credential", "certificate \(printable(c.path))")
            more("why: its name is apns-topic \(d.apnsTopic ?? "") + .\(d.provider.apnsRelease ?? "prod") "
                 + "(pn-provider \(d.provider.rawValue)); a certificate file wins over a .p8 key")
            more("subject \(printable(c.subject)), valid until \(c.notAfter.rfc3339)")
        case .apnsToken(let team, let keyId)?:
            line("credential", ".p8 key \(keyId) of team \(team) (apple-token-keys)")
            more("why: no \(printable(key)).pem in \(printable(push.appleCertificateDir)), and pn-param's team is \(team)")
        case .firebaseServiceAccount(let project, let projectId, let email)?:
            let path = push.firebaseServiceAccounts.first { $0.project == project }?.value ?? "?"
            line("credential", "service account \(printable(path)) (FCM v1, OAuth access token)")
            more("why: firebase-service-accounts lists it for project number \(project) (pn-param)")
            more("project_id \(printable(projectId)), client_email \(printable(email))")
        case .firebaseServerKey(let project)?:
            line("credential", "server key of project \(project) (FCM legacy)")
            more("why: firebase-projects-api-keys lists project number \(project) (pn-param)")
        case .generic?:
            line("credential", "external-push-uri \(printable(push.externalPushURI))")
            more("why: when set it replaces every other sender, as in Flexisip")
        case nil:
            if d.isAPNs {
                line("credential", "none: no \(printable(key)).pem in \(printable(push.appleCertificateDir)) "
                     + "and no apple-token-keys key of team \(d.apnsTeamId ?? "?")")
            } else {
                line("credential", "none for \(printable(d.provider.rawValue)) project \(printable(d.firebaseProject ?? d.param))")
            }
        }
    }

    func attempt(_ a: ExchangeTrace.Attempt) {
        line("request", "\(a.request.method) \(printable(a.request.url))")
        for h in a.request.headers { more("\(h.name): \(printable(h.value))") }
        if !a.request.body.isEmpty { more(body(a.request.body)) }
        guard let response = a.response else {
            line("response", "none (see the result)")
            return
        }
        line("response", "HTTP \(response.status)")
        for h in response.headers { more("\(printable(h.name)): \(printable(h.value))") }
        if !response.body.isEmpty { more(body(response.body)) }
    }

    func outcome(_ o: SendOutcome) {
        let status = o.status.map { " HTTP \($0)" } ?? ""
        let reason = o.reason.map { " — \(printable($0))" } ?? ""
        let verdict = o.result == .sent ? "accepted by the provider" : "not accepted"
        line("result", "\(o.result.rawValue)\(status)\(reason) (\(verdict); \(o.attempts) attempt(s)"
             + (o.latencyMs.map { ", \($0) ms" } ?? "") + ")")
    }

    private func body(_ bytes: [UInt8]) -> String {
        let text = printable(String(decoding: bytes.prefix(Self.bodyLimit), as: UTF8.self))
        return bytes.count > Self.bodyLimit ? text + "… (\(bytes.count) bytes)" : text
    }

    /// Control characters escaped: provider answers and contact values are not trusted.
    private func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                out += scalar.escaped(asASCII: true)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
