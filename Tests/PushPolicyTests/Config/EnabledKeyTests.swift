import PushContract
import Testing

@testable import PushPolicy

/// `enabled` is Flexisip's switch for its in-proxy module; an operator sets it to `false` when
/// pushes move to PushFleet, so a worker reads it and pushes anyway (contract 1.1 §3).
@Suite("[module::PushNotification] enabled does not switch the worker off")
struct EnabledKeyTests {
    static let disabled = "[module::PushNotification]\nenabled=false\n"

    @Test("a policy built from enabled=false still decides to push, and says once why")
    func disabledStillPushes() throws {
        let config = try PushFleetConfig.load(text: Self.disabled)
        #expect(config.pushNotification.enabled == false, "the key is read")
        let policy = try BranchPolicy(options: config.pushNotification, router: config.router)
        guard case .push(let requests) = policy.decide(Fixture.event(uri: Fixture.iosVoip)) else {
            Issue.record("enabled=false must not skip the push")
            return
        }
        #expect(requests.first?.pushType == .voip)
        let notice = try #require(policy.startupNotice)
        #expect(notice.contains("enabled=false") && notice.contains("pushes anyway") && notice.contains("stop the workers"))
        let enabled = try BranchPolicy(options: try PushFleetConfig.load(text: "[module::PushNotification]\nenabled=true\n").pushNotification,
                                       router: RouterOptions())
        #expect(enabled.startupNotice == nil, "nothing to say when the key is true")
    }

    @Test("config dump still shows the key as written, and it is not a warning")
    func dumpShowsTheKey() throws {
        let config = try PushFleetConfig.load(text: Self.disabled)
        #expect(config.dump().split(separator: "\n").contains("enabled=false"))
        #expect(config.warnings.isEmpty)
        #expect(try PushFleetConfig.load(text: config.dump()).pushNotification.enabled == false)
    }
}
