import ArgumentParser
import Logging
import PushContract
import PushPolicy
import PushSenders

/// `pushfleet push`: one push straight to the provider, no Kafka (Flexisip's `flexisip_pusher`,
/// docs/contract.md §4). It goes through the worker's own path: the contact's parameters are
/// parsed by `PushParameters`, the push shaped by `PushStrategy`, sent by `PushSenders`.
struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Send one push straight to its provider with the config's credentials (no Kafka) and show the exchange.",
        // Written by hand: the generated one is a single 230-column line.
        usage: """
            pushfleet push --config <file> [--set <k=v> ...]
              (--pn-provider <p> --pn-param <p> --pn-prid <prid> | --contact <URI>)
              --type <voip|background|message|ringing>
              [--call-id <id>] [--timeout <s>]
            """,
        discussion: """
            Prints the credential chosen and why, the request as sent (secrets redacted), the \
            provider's status, reason and headers, and a one-line diagnosis of the usual \
            mistakes (wrong APNs environment, topic not matching the certificate, expired \
            certificate, token of another app, dead token). Exits 0 only when the provider \
            accepted the push, 1 when it did not, 64 for bad arguments, 78 for a configuration \
            error (a key, a credential file).

              pushfleet push --config flexisip.conf --pn-provider apns \\
                --pn-param ABCD1234.org.linphone.phone.voip \\
                --pn-prid 5f1c…e9:voip --type voip --call-id debug-1
              pushfleet push --config flexisip.conf --type message \\
                --contact 'sip:bob@10.0.0.7;pn-provider=fcm;pn-param=1234;pn-prid=dT…'
            """)

    /// The types an operator may ask for (`final` and `wakeup` are the worker's own).
    enum RequestedType: String, ExpressibleByArgument, CaseIterable {
        case voip, background, message, ringing

        var pushType: PushType {
            switch self {
            case .voip: .voip
            case .background: .background
            case .message: .message
            case .ringing: .ringing
            }
        }
    }

    @OptionGroup var options: ConfigOptions

    @Option(name: .customLong("pn-provider"), help: ArgumentHelp("RFC 8599 pn-provider: apns, apns.dev or fcm.", valueName: "provider"))
    var provider: String?
    @Option(name: .customLong("pn-param"), help: ArgumentHelp("RFC 8599 pn-param: TEAMID.bundle.id[.voip|.remote|.remote&voip] or the Firebase project number.", valueName: "param"))
    var param: String?
    @Option(name: .customLong("pn-prid"), help: ArgumentHelp("RFC 8599 pn-prid: the device token(s), token[:voip|:remote][&…].", valueName: "prid"))
    var prid: String?
    @Option(help: ArgumentHelp("The whole registered contact URI instead of the three --pn-* options (legacy pn-type/pn-tok/app-id too).", valueName: "URI"))
    var contact: String?
    @Option(help: ArgumentHelp("The push to send.", valueName: "voip|background|message|ringing"))
    var type: RequestedType
    @Option(help: ArgumentHelp("Call-ID carried in the payload (and apns-collapse-id of a ringing push).", valueName: "id"))
    var callId: String = "pushfleet-push"
    @Option(help: ArgumentHelp("Seconds to wait for the provider, retries included.", valueName: "s"))
    var timeout: Int = 15

    func validate() throws {
        guard !callId.isEmpty else { throw ValidationError("--call-id: must not be empty") }
        guard (1...300).contains(timeout) else { throw ValidationError("--timeout \(timeout): must be 1…300 seconds") }
        // Whether the device has a destination for the type depends on its tokens, not on the
        // config: checked here, so a usage error never waits for a config file.
        _ = try request(parameters(), options: PushNotificationOptions(), router: RouterOptions(), now: SystemClock().now())
    }

    /// The push the worker would send this device for `--type`.
    func request(_ params: PushParameters, options: PushNotificationOptions, router: RouterOptions, now: EventTime) throws -> PushRequest {
        let contactURI = contact ?? "sip:device@pushfleet.invalid;pn-provider=\(params.provider.rawValue);pn-param=\(params.param);pn-prid=\(params.prid)"
        do {
            return try PushStrategy.forced(type.pushType, params: params, callId: callId, contact: contactURI,
                                           options: options, router: router, now: now)
        } catch {
            throw ValidationError("--type \(type.rawValue): \(error)")
        }
    }

    /// The device's parameters, through the worker's parser; errors name the flag at fault.
    func parameters() throws -> PushParameters {
        let given = [("--pn-provider", provider), ("--pn-param", param), ("--pn-prid", prid)]
        if let contact {
            if let flag = given.first(where: { $0.1 != nil })?.0 {
                throw ValidationError("give the device either as --contact or as --pn-provider/--pn-param/--pn-prid, not both (\(flag) with --contact)")
            }
            do { return try PushParameters(requestUri: contact) } catch {
                throw ValidationError("--contact: \(error)")
            }
        }
        guard let provider, let param, let prid else {
            let missing = given.filter { $0.1 == nil }.map(\.0)
            if missing.count == given.count {
                throw ValidationError("no device: give --pn-provider, --pn-param and --pn-prid, or --contact URI")
            }
            throw ValidationError("missing \(missing.joined(separator: " and ")): the device needs --pn-provider, --pn-param and --pn-prid")
        }
        do { return try PushParameters(provider: provider, param: param, prid: prid) } catch {
            throw ValidationError("--\(error.parameter): \(error.reason)")
        }
    }

    func run() async throws {
        let config = try options.load()
        bootstrapLogging(format: config.pushfleet.logFormat, level: .warning)
        let params = try parameters()
        let now = SystemClock().now()
        let request = try self.request(params, options: config.pushNotification, router: config.router, now: now)
        let report = PushReport()
        report.device(request, asked: type.pushType, params: params)

        let senders: PushSenders
        do {
            senders = try PushSenders(config: config, logger: Logger(label: "pushfleet.senders"))
        } catch {
            throw CommandError(error)
        }
        let credential = senders.credential(for: request)
        report.credential(credential, request: request, config: config)
        if let expired = PushDiagnosis.beforeSending(credential, now: now) {
            report.line("result", "not sent")
            report.line("diagnosis", expired)
            await senders.shutdown()
            throw ExitCode.failure
        }
        let trace = ExchangeTrace()
        let outcome = await senders.send(request, deadline: now.adding(seconds: timeout), trace: trace)
        await senders.shutdown()
        for attempt in trace.attempts { report.attempt(attempt) }
        report.outcome(outcome)
        let facts = PushDiagnosis.Facts(provider: config.pushNotification.externalPushURI.isEmpty ? request.destination.provider : PushProvider(rawValue: "generic"),
                                        status: outcome.status, reason: outcome.result == .sent ? nil : outcome.reason,
                                        topic: request.destination.apnsTopic, credential: trace.credential ?? credential)
        if outcome.result != .sent, let line = PushDiagnosis.diagnose(facts) {
            report.line("diagnosis", line)
        }
        if outcome.result != .sent { throw ExitCode.failure }
    }
}
