/// A test that could not reach the state it waits for, with what it waited for.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Waits until `condition` holds, or fails after `timeout`: a deadline, never a fixed sleep, so a
/// test goes on as soon as the condition is true and a slow machine only makes it slower.
public func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: @Sendable () async throws -> Bool) async throws {
    _ = try await waitForValue(what, timeout: timeout) { try await condition() ? true : nil }
}

/// Polls until `produce` returns a value, or fails after `timeout`.
public func waitForValue<T: Sendable>(_ what: String, timeout: Duration = .seconds(20), _ produce: @Sendable () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try await produce() { return value }
        if ContinuousClock.now > deadline { throw TestFailure("timed out after \(timeout) waiting for: \(what)") }
        try await Task.sleep(for: .milliseconds(5))
    }
}
