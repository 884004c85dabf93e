import NIOCore

/// A complete answer: status, headers and body, as a sandbox service renders it.
struct SandboxResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    init(status: Int, headers: [(String, String)] = [], json: String) {
        self.init(status: status, headers: headers + [("content-type", "application/json")], body: Array(json.utf8))
    }
}

/// Validation returns `Result<_, SandboxResponse>`: the rejection is the answer itself.
extension SandboxResponse: Error {}

/// What the transport does with one request: the protocol-level form of a `SandboxReply`.
indirect enum SandboxAction: Sendable {
    case respond(SandboxResponse)
    case delay(milliseconds: Int, then: SandboxAction)
    case hang
    /// Write the head of the response, then nothing more (the stream or connection stays open).
    case headThenStall(SandboxResponse)
    case reset
    case goAway
}

extension SandboxReply {
    /// Maps the transport-level replies structurally and lets `render` turn each answer into a response.
    func action(render: (SandboxReply) -> SandboxResponse) -> SandboxAction {
        switch self {
        case .slow(let milliseconds, let then): .delay(milliseconds: milliseconds, then: then.action(render: render))
        case .hang: .hang
        case .stallBody(let then): .headThenStall(render(then))
        case .redirect(let location): .respond(SandboxResponse(status: 302, headers: [("location", location)]))
        case .reset: .reset
        case .goAway: .goAway
        default: .respond(render(self))
        }
    }

    /// `retry-after` for the replies that carry one.
    var retryAfterHeaders: [(String, String)] {
        switch self {
        case .tooManyRequests(let seconds?), .unavailable(let seconds?): [("retry-after", String(seconds))]
        default: []
        }
    }
}

/// A sandbox's request logic, independent of HTTP version and TLS.
///
/// - Important: called on the connection's event loop for every request; must not block.
protocol SandboxService: Sendable {
    func handle(_ request: RecordedRequest) -> SandboxAction
}
