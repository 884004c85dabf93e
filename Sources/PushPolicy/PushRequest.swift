public import PushContract

/// Where one push goes: the provider, the device token and what selects the credentials.
public struct PushDestination: Sendable, Hashable {
    /// `apns`, `apns.dev`, `fcm`, `wp`, … (the contact's provider after legacy mapping).
    public var provider: PushProvider
    /// The device token for this push type.
    public var token: String
    /// The contact's whole `pn-param` / `pn-prid`, as the dedup key needs them.
    public var param: String
    public var prid: String
    /// APNs: `apns-topic` (bundle id, `.voip` appended for PushKit).
    public var apnsTopic: String?
    /// APNs: certificate name under `apple-certificate-dir`, e.g. `org.linphone.phone.voip.prod`.
    public var apnsCertificateKey: String?
    /// APNs: team id of `pn-param` (selects `.p8` token keys).
    public var apnsTeamId: String?
    /// FCM: the Firebase project number that selects the credentials.
    public var firebaseProject: String?

    public init(
        provider: PushProvider, token: String, param: String, prid: String, apnsTopic: String? = nil,
        apnsCertificateKey: String? = nil, apnsTeamId: String? = nil, firebaseProject: String? = nil
    ) {
        self.provider = provider
        self.token = token
        self.param = param
        self.prid = prid
        self.apnsTopic = apnsTopic
        self.apnsCertificateKey = apnsCertificateKey
        self.apnsTeamId = apnsTeamId
        self.firebaseProject = firebaseProject
    }

    public var isAPNs: Bool { provider.isAPNs }

    /// Flexisip's application id: the certificate key for APNs, `pn-param` otherwise (`$app-id`).
    public var appId: String { apnsCertificateKey ?? param }
}

/// `$event` of generic pushes.
public enum PushEvent: String, Sendable, Hashable {
    case call
    case message
}

/// Everything a payload builder needs from the SIP request, already shaped as Flexisip would
/// (display-from-uri applied, loc strings chosen), so builders only lay bytes out.
public struct PayloadInputs: Sendable, Hashable {
    public var callId: String
    public var fromURI: String
    /// Display name with surrounding blanks and quotes removed, as Flexisip.
    public var fromDisplayName: String
    public var fromTag: String
    public var toURI: String
    /// The contact's `+sip.instance` without surrounding quotes (`uuid`, `$uid`).
    public var uuid: String
    public var messageId: String
    public var chatRoomAddr: String
    public var locKey: String
    /// Display name if not empty, else the From URI.
    public var locArgs: String
    public var sound: String
    /// MESSAGE text (generic push body).
    public var body: String
    public var event: PushEvent
    /// Loc-keys of the final push of a ringing call.
    public var missingCall: String
    public var acceptedElsewhere: String
    public var declinedElsewhere: String

    public init(
        callId: String, fromURI: String = "", fromDisplayName: String = "", fromTag: String = "",
        toURI: String = "", uuid: String = "", messageId: String = "", chatRoomAddr: String = "",
        locKey: String = "", locArgs: String = "", sound: String = "", body: String = "",
        event: PushEvent = .call, missingCall: String = "", acceptedElsewhere: String = "",
        declinedElsewhere: String = ""
    ) {
        self.callId = callId
        self.fromURI = fromURI
        self.fromDisplayName = fromDisplayName
        self.fromTag = fromTag
        self.toURI = toURI
        self.uuid = uuid
        self.messageId = messageId
        self.chatRoomAddr = chatRoomAddr
        self.locKey = locKey
        self.locArgs = locArgs
        self.sound = sound
        self.body = body
        self.event = event
        self.missingCall = missingCall
        self.acceptedElsewhere = acceptedElsewhere
        self.declinedElsewhere = declinedElsewhere
    }
}

/// One push to send (or schedule): destination, type, timing and payload inputs.
public struct PushRequest: Sendable, Hashable {
    public var destination: PushDestination
    /// `voip`, `background`, `message`, `ringing` (repeated remote call alert) or `final`.
    public var pushType: PushType
    /// Seconds; 0 = deliver now or never (APNs `apns-expiration: 0`).
    public var ttl: Int
    /// APNs `apns-collapse-id` source (the Call-ID of ringing pushes).
    public var collapseId: String?
    /// Seconds between ringing repetitions; 0 = no repetition and no final push.
    public var ringingInterval: Int
    /// Seconds from the event time before the first push, ≥ 0.
    public var delay: Int
    /// Seconds from the event time during which a ringing alert is worth sending: this call's
    /// fork timeout (the event's `forkTimeout`, else `call-fork-timeout`). Its TTL is 0 ("now or
    /// never" for the provider), so without this a single alert read late would be kept for the
    /// module-wide `call-fork-timeout` even when the router said the call rings for less (or more).
    public var callLifetime: Int?
    public var payload: PayloadInputs

    public init(
        destination: PushDestination, pushType: PushType, ttl: Int, collapseId: String? = nil,
        ringingInterval: Int = 0, delay: Int = 0, callLifetime: Int? = nil, payload: PayloadInputs
    ) {
        self.destination = destination
        self.pushType = pushType
        self.ttl = ttl
        self.collapseId = collapseId
        self.ringingInterval = ringingInterval
        self.delay = delay
        self.callLifetime = callLifetime
        self.payload = payload
    }

    /// One pending push context per call per device, as Flexisip: `callId:provider:param:prid`.
    public var dedupKey: String {
        "\(payload.callId):\(destination.provider.rawValue):\(destination.param):\(destination.prid)"
    }

    /// The alert that closes a ringing branch when the call ends (docs/contract.md §2.3); nil when
    /// this is not a repeating ringing push (Flexisip sends no final push without repetition).
    /// - Note: `answered` means another branch took the call (this branch's own answer would
    ///   have stopped its schedule first), so it reads "Accepted elsewhere" like Flexisip's fork.
    public func finalPush(for reason: CallEndReason) -> PushRequest? {
        guard pushType == .ringing, ringingInterval > 0 else { return nil }
        var final = self
        final.pushType = .final
        final.delay = 0
        final.ringingInterval = 0
        switch reason {
        case .answered, .answeredElsewhere: final.payload.locKey = payload.acceptedElsewhere
        case .declinedElsewhere: final.payload.locKey = payload.declinedElsewhere
        case .cancelled, .timeout: final.payload.locKey = payload.missingCall
        }
        return final
    }
}

/// The strategy's answer for one `branch.unanswered`.
public enum PushDecision: Sendable, Hashable {
    case push([PushRequest])
    /// No push; the reason becomes the `skipped` outcome's reason (its code, the metrics').
    case skipped(reason: OutcomeReason)
}

extension PushRequest {
    /// The device this push goes to, as `push.outcome` names it (contract 1.1 §2.5): the
    /// contact's whole `pn-provider`/`pn-param`/`pn-prid` (legacy parameters mapped), the AOR
    /// and the `+sip.instance`, so a router can drop exactly the binding a provider rejected.
    public var device: PushDevice {
        PushDevice(provider: destination.provider.rawValue, param: destination.param, prid: destination.prid,
                   aor: payload.toURI, instanceId: payload.uuid.isEmpty ? nil : payload.uuid)
    }
}
