import ArgumentParser
import Foundation
import PushSandbox

/// `pushfleet sandbox`: only the sandbox push providers, for compose stacks and local work.
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run the sandbox APNs, FCM (with OAuth) and generic HTTP/2 endpoints and write their credentials.",
        // Written by hand: the generated usage is one line over 80 columns.
        usage: """
            pushfleet sandbox [--listen <address>] [--hostname <name>]
              [--apns-port <port>] [--fcm-port <port>] [--generic-port <port>]
              [--firebase-project <number>] [--write-credentials <directory>]
            """,
        discussion: """
            Generates a throwaway CA, starts the servers (real TLS + HTTP/2; certificates valid for \
            --hostname, localhost and 127.0.0.1) and writes into --write-credentials: ca.pem \
            (tls-ca-file), apn/org.linphone.phone{,.voip}.{dev,prod}.pem (apple-certificate-dir) \
            and service-account.json (firebase-service-accounts, token_uri on the FCM sandbox). \
            Runs until SIGINT or SIGTERM.

              pushfleet sandbox --listen 0.0.0.0 --hostname sandbox \\
                --apns-port 8443 --fcm-port 8444 --generic-port 8445 \\
                --write-credentials /var/lib/pushfleet-sandbox
            """)

    @Option(help: "Address to listen on.") var listen: String = "127.0.0.1"
    @Option(help: "Name clients use to reach the sandbox (certificates and URLs).") var hostname: String = "127.0.0.1"
    @Option(help: "APNs port (0 = any free port).") var apnsPort: Int = 8443
    @Option(help: "FCM and OAuth port (0 = any free port).") var fcmPort: Int = 8444
    @Option(help: "Generic HTTP/2 port (0 = any free port).") var genericPort: Int = 8445
    @Option(help: "Firebase project number the service account is for (pn-param of Android contacts).")
    var firebaseProject: String = SandboxFleetFiles.firebaseProject
    @Option(help: "Directory for ca.pem, apn/*.pem and service-account.json.") var writeCredentials: String = "./sandbox-credentials"

    func run() async throws {
        let ca = try SandboxCertificateAuthority.generate()
        func at(_ port: Int) -> SandboxListen { SandboxListen(host: listen, port: port, hostname: hostname) }
        let apns = try APNsSandbox(ca: ca, listen: at(apnsPort))
        try await apns.start()
        let fcm = try FCMSandbox(ca: ca, listen: at(fcmPort))
        try await fcm.start()
        let generic = try GenericPushSandbox(version: .http2, tls: .tls(ca.issueServerCredential(hosts: ["localhost", "127.0.0.1", hostname])),
                                             listen: at(genericPort))
        try await generic.start()
        let files = try SandboxFleetFiles(directory: URL(fileURLWithPath: writeCredentials), ca: ca, fcm: fcm)
        say("""
            PushFleet sandbox providers
              apple-push-uri / apple-dev-push-uri   \(apns.baseURL)
              firebase-uri                          \(fcm.baseURL)
              external-push-uri (generic)           \(generic.baseURL)/push?token=$token&call=$call-id
              tls-ca-file                           \(files.caFile)
              apple-certificate-dir                 \(files.certificateDirectory)
              firebase-service-accounts             \(firebaseProject):\(files.serviceAccountFile)
            Ctrl-C to stop.
            """)
        let signal = await TerminationSignal.wait()
        try? await apns.shutdown()
        try? await fcm.shutdown()
        try? await generic.shutdown()
        say("sandbox stopped (\(signal)): APNs received \(apns.requests.count), FCM \(fcm.requests.count), generic \(generic.requests.count) request(s)")
    }
}
