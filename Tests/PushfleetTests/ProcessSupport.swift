import Foundation
@_exported import PushFleetTesting
import Testing
import Synchronization

/// The suites that start real processes (workers, brokers, Kamailio, SIPp) run one after
/// another: on a 2-core machine, two of them at once turn timing bounds (ringing gaps, pushes
/// per interval) into coin flips. Unit suites still run in parallel with them.
@Suite(.serialized) enum FleetProcesses {}

/// The directory holding the package's built products (`pushfleet` sits beside the test bundle).
let productsDirectory: URL = {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
}()

/// Text a child process writes to one stream, collected until EOF.
final class OutputBuffer: Sendable {
    // Bytes, decoded when read: a pipe read can end in the middle of a multi-byte character.
    private let state = Mutex<(bytes: Data, closed: Bool)>((Data(), false))

    /// Reads on a plain thread until EOF: blocking reads never run on the cooperative pool.
    init(reading handle: FileHandle) {
        Thread { [self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                state.withLock { $0.bytes.append(data) }
            }
            state.withLock { $0.closed = true }
        }.start()
    }

    var text: String { String(decoding: state.withLock { $0.bytes }, as: UTF8.self) }
    var isClosed: Bool { state.withLock { $0.closed } }
}

/// Children started by the tests and not yet seen to exit. Many tests stop their fleet from a
/// `defer { Task { … } }`; when such a test is the last to run, the test process exits before that
/// task has run, and its workers used to live on (found spinning against their dead broker after
/// a filtered run). Whatever is left when the test process exits is killed.
private let liveChildren = Mutex<Set<Int32>>([])
private let killLiveChildrenAtExit: Void = {
    atexit {
        // Their own children too: a SIGKILLed `pushfleet dev` cannot stop the workers it started.
        for pid in withDescendants(liveChildren.withLock({ $0 })) { kill(pid, SIGKILL) }
    }
}()

/// `roots` and every process below them, from the parent ids in /proc.
private func withDescendants(_ roots: Set<Int32>) -> Set<Int32> {
    var parentOf: [Int32: Int32] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        // After the command name: state, then the parent id.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 1, let parent = Int32(fields[1]) { parentOf[pid] = parent }
    }
    var all = roots
    var grew = true
    while grew {
        grew = false
        for (pid, parent) in parentOf where all.contains(parent) && !all.contains(pid) {
            all.insert(pid)
            grew = true
        }
    }
    return all
}

/// A child process whose output is collected as it arrives, for tests that run real binaries.
final class ChildProcess: Sendable {
    let process: Process
    let output: OutputBuffer
    let errors: OutputBuffer
    /// The child's stdin while it is kept open (`interactive`), for `send(_:)`.
    private let input: FileHandle?

    /// `environment` adds to (or overrides) the test process's environment. `interactive` keeps
    /// stdin open for `send(_:)` (`stdin`, if given, is written first either way).
    init(_ executable: String, _ arguments: [String], stdin: String? = nil, interactive: Bool = false,
         environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = executable.hasPrefix("/") ? URL(fileURLWithPath: executable) : productsDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil && !interactive ? FileHandle.nullDevice : input
        _ = killLiveChildrenAtExit
        process.terminationHandler = { finished in
            _ = liveChildren.withLock { $0.remove(finished.processIdentifier) }
        }
        // Started under the lock, so a quick exit cannot be handled before the pid is recorded.
        try liveChildren.withLock { children in
            try process.run()
            children.insert(process.processIdentifier)
        }
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        if stdin != nil && !interactive { try input.fileHandleForWriting.close() }
        self.input = interactive ? input.fileHandleForWriting : nil
        self.process = process
        output = OutputBuffer(reading: out.fileHandleForReading)
        errors = OutputBuffer(reading: err.fileHandleForReading)
    }

    /// Waits for the process to exit and its output to be read to EOF, or fails after
    /// `timeout` (and kills it).
    func waitForExit(timeout: Duration) async throws -> Int32 {
        do {
            try await waitUntil("\(process.executableURL?.lastPathComponent ?? "process") to exit", timeout: timeout) {
                !process.isRunning && output.isClosed && errors.isClosed
            }
        } catch {
            process.terminate()
            throw error
        }
        return process.terminationStatus
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Writes one line to an `interactive` child's stdin.
    func send(_ line: String) { input?.write(Data((line + "\n").utf8)) }
}

/// Runs a command to completion and returns (status, stdout, stderr).
func run(_ executable: String, _ arguments: [String], stdin: String? = nil, timeout: Duration = .seconds(30)) async throws -> (Int32, String, String) {
    let child = try ChildProcess(executable, arguments, stdin: stdin)
    let status = try await child.waitForExit(timeout: timeout)
    return (status, child.output.text, child.errors.text)
}

