// libFuzzer entry for the filter language: arbitrary bytes must parse or throw
// FilterSyntaxError, and a parsed filter must evaluate without trapping or hanging.
// Compiled together with the Filter core files only (see run.sh), not part of the package.

/// A fixed subject whose values exercise quotes, spaces, non-ASCII and regex-hostile text.
struct FuzzSubject: FilterSubject {
    func filterValue(_ variable: FilterVariable) -> String? {
        switch variable {
        case .direction: "request"
        case .requestMethod, .requestMethodName: "INVITE"
        case .requestURIDomain: "sip.example.org"
        case .requestURIUser: "alice"
        case .requestURIParams: "pn-provider=apns;pn-prid=abc:voip;transport=tls"
        case .fromURIDomain, .toURIDomain, .contactURIDomain: "example.org"
        case .fromURIUser: "bob"
        case .toURIUser: "0033612345678"
        case .fromURIParams, .toURIParams: ""
        case .contactURIUser: "élise"
        case .contactURIParams: "transport=tcp"
        case .userAgent: "Linphone/5.2 (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!) 'quoted'"
        case .callID: "a84b4c76e66710@pc33.example.org"
        case .callIDHash: "12345"
        case .contentType: "text/plain"
        case .statusCode, .statusPhrase: nil
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFilter(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let expression = try FilterExpression(parsing: text)
        _ = expression.evaluate(FuzzSubject())
    } catch {
        // A syntax error must point inside the text or just past its end.
        let limit = text.unicodeScalars.count + 1
        if error.column < 1 || error.column > limit {
            fatalError("column \(error.column) outside 1...\(limit)")
        }
    }
    return 0
}
