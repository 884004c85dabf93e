import PushContract
@testable import PushPolicy
import Testing

/// `PushStrategy.forced` (behind `pushfleet push --type`): the destination, TTL and payload
/// the worker gives each type, and clear errors for a type the device has no token for.
@Suite struct ForcedPushTests {
    private func forced(_ type: PushType, _ uri: String, options: PushNotificationOptions = Fixture.options()) throws -> PushRequest {
        try PushStrategy.forced(type, params: PushParameters(requestUri: uri), callId: "debug-1", contact: uri,
                                options: options, router: RouterOptions(), now: Fixture.now)
    }

    @Test("voip to an iOS contact with both tokens: the VoIP token, .voip topic, call TTL — as decide gives a call")
    func voipMatchesDecide() throws {
        let r = try forced(.voip, Fixture.iosBoth)
        let decided = try #require(Fixture.request(Fixture.event(uri: Fixture.iosBoth, callId: "debug-1")))
        #expect(r.pushType == .voip && decided.pushType == .voip)
        #expect(r.destination == decided.destination)
        #expect(r.ttl == 90)
        #expect(r.payload.locKey == "IC_MSG")
        #expect(r.payload.callId == "debug-1")
    }

    @Test("message, background and ringing to the remote token; ringing is one alert with a collapse id and TTL 0")
    func remoteTypes() throws {
        let message = try forced(.message, Fixture.iosBoth)
        #expect(message.pushType == .message && message.destination.token == Fixture.remoteToken)
        #expect(message.ttl == 604_800 && message.payload.locKey == "IM_MSG")
        let background = try forced(.background, Fixture.iosBoth)
        #expect(background.pushType == .background && background.destination.apnsTopic == "org.linphone.phone")
        let ringing = try forced(.ringing, Fixture.iosRemote)
        #expect(ringing.pushType == .ringing && ringing.ttl == 0 && ringing.collapseId == "debug-1")
        #expect(ringing.ringingInterval == 0 && ringing.callLifetime == 90)
    }

    @Test("FCM has one push: voip, ringing and message become the background push the worker sends")
    func firebaseFallsThrough() throws {
        for type in [PushType.voip, .ringing, .message, .background] {
            let r = try forced(type, Fixture.android)
            #expect(r.pushType == .background, "\(type)")
            #expect(r.destination.firebaseProject == "123456789")
            #expect(r.ttl == (type == .message ? 604_800 : 90))
        }
    }

    @Test("a type the contact has no token for is an error naming pn-prid and the tokens it has")
    func missingToken() {
        do {
            _ = try forced(.voip, Fixture.iosRemote)
            Issue.record("a VoIP push to a remote-only contact was built")
        } catch let error as PushParameterError {
            #expect(error.parameter == "pn-prid")
            #expect(error.reason.contains("no VoIP destination") && error.reason.contains("remote"), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect(throws: PushParameterError.self) { try forced(.message, Fixture.iosVoip) }
    }

    @Test("RFC 8599 parameters given one by one are checked as a contact's")
    func parametersOneByOne() throws {
        let p = try PushParameters(provider: "apns", param: "ABCD1234.org.linphone.phone.voip", prid: Fixture.voipToken + ":voip")
        #expect(p == (try PushParameters(requestUri: Fixture.iosVoip)))
        #expect(throws: PushParameterError(parameter: "pn-prid", reason: "missing or empty")) {
            try PushParameters(provider: "apns", param: "ABCD1234.org.linphone.phone", prid: "")
        }
        #expect(throws: PushParameterError(parameter: "pn-prid", reason: "APNs token must be 64 alphanumeric characters")) {
            try PushParameters(provider: "apns", param: "ABCD1234.org.linphone.phone", prid: "short")
        }
        #expect(throws: PushParameterError(parameter: "pn-provider", reason: "'wp9' provider not supported")) {
            try PushParameters(provider: "wp9", param: "x", prid: "y")
        }
    }
}
