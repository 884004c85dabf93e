import Foundation

/// The fields PushFleet needs from a Google service-account JSON file.
package struct FirebaseServiceAccount: Sendable, Hashable {
    package var projectId: String
    package var clientEmail: String
    package var privateKeyPEM: String
    package var tokenURI: String

    /// Parses the file content; errors name the missing or malformed field.
    package init(json: String, origin: String) throws(SenderConfigError) {
        func fail(_ problem: String) -> SenderConfigError {
            SenderConfigError(key: "firebase-service-accounts", value: origin, problem: problem)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        func field(_ name: String) throws(SenderConfigError) -> String {
            guard let value = object[name] as? String, !value.isEmpty else { throw fail("missing string field \(name)") }
            return value
        }
        projectId = try field("project_id")
        clientEmail = try field("client_email")
        privateKeyPEM = try field("private_key")
        tokenURI = try field("token_uri")
        guard tokenURI.lowercased().hasPrefix("https://") || tokenURI.lowercased().hasPrefix("http://") else {
            throw fail("token_uri is not an http(s) URL")
        }
    }

    package static func load(path: String) throws(SenderConfigError) -> FirebaseServiceAccount {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SenderConfigError(key: "firebase-service-accounts", value: path, problem: "cannot read the file: \(error.localizedDescription)")
        }
        return try FirebaseServiceAccount(json: text, origin: path)
    }
}
