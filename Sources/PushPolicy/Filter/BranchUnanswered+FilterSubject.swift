import PushContract

/// A `branch.unanswered` event seen as the SIP request Flexisip's PushNotification module
/// filters: the INVITE/MESSAGE forwarded to one registered contact.
///
/// Differences from sofia-sip's view, all from `SIPURI`: `*.uri.domain` is lower-cased and
/// `*.uri.user` is percent-decoded (sofia keeps both as written).
extension BranchUnanswered: FilterSubject {
    public func filterValue(_ variable: FilterVariable) -> String? {
        switch variable {
        // The module only ever sees the forwarded request, never a response.
        case .direction: return "request"
        case .requestMethod, .requestMethodName: return method
        case .requestURIDomain: return SIPURI(requestUri)?.host
        case .requestURIUser: return SIPURI(requestUri)?.user
        case .requestURIParams: return SIPURI(requestUri)?.rawParameters
        case .fromURIDomain: return SIPURI(from.uri)?.host
        case .fromURIUser: return SIPURI(from.uri)?.user
        case .fromURIParams: return SIPURI(from.uri)?.rawParameters
        case .toURIDomain: return SIPURI(to.uri)?.host
        case .toURIUser: return SIPURI(to.uri)?.user
        case .toURIParams: return SIPURI(to.uri)?.rawParameters
        case .contactURIDomain: return contactURI?.host
        case .contactURIUser: return contactURI?.user
        case .contactURIParams: return contactURI?.rawParameters
        case .userAgent: return headers["User-Agent"]
        case .callID: return callId
        case .callIDHash: return String(Self.sofiaCallIDHash(callId))
        case .contentType:
            guard let value = headers["Content-Type"] ?? headers["c"] else { return nil }
            return Self.mediaType(value)
        case .statusCode, .statusPhrase: return nil
        }
    }

    /// The first Contact's URI (compact form `m` too).
    var contactURI: SIPURI? {
        guard let value = headers["Contact"] ?? headers["m"], let uri = Self.nameAddrURI(value) else { return nil }
        return SIPURI(uri)
    }

    /// The URI of a name-addr (`"Bob" <sip:bob@h;p>;expires=3`) or addr-spec (`sip:bob@h;q=1`).
    ///
    /// Quoted display names may contain `<`, so quotes are skipped. Without angle brackets the
    /// `;` parameters belong to the header, not the URI (RFC 3261 §20.10), so they are cut.
    package static func nameAddrURI(_ value: String) -> String? {
        let scalars = Array(value.unicodeScalars)
        var i = 0
        var inQuote = false
        while i < scalars.count {
            let c = scalars[i]
            if inQuote {
                if c == "\\" { i += 1 } else if c == "\"" { inQuote = false }
            } else if c == "\"" {
                inQuote = true
            } else if c == "<" {
                guard let close = scalars[(i + 1)...].firstIndex(of: ">") else { return nil }
                return Self.string(scalars[(i + 1)..<close])
            } else if c == ";" || c == "," {
                break
            }
            i += 1
        }
        if inQuote { return nil }
        let spec = Substring(Self.string(scalars[..<min(i, scalars.count)])).trimmingASCIIWhitespace()
        return spec.isEmpty ? nil : String(spec)
    }

    /// `type/subtype` without parameters, as sofia-sip's `c_type`.
    package static func mediaType(_ value: String) -> String {
        let beforeParameters = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return String(beforeParameters.trimmingASCIIWhitespace())
    }

    /// sofia-sip's `msg_hash_string`, stored in the 32-bit `i_hash` that Flexisip prints.
    ///
    /// Each byte is read as a `char`, cast to `unsigned` and added, then the sum is multiplied by
    /// 38501 in 64-bit `unsigned long`; a zero result becomes `ULONG_MAX`. Bytes ≥ 0x80
    /// sign-extend, as with x86-64's signed `char` (arm64 Linux would differ for them).
    package static func sofiaCallIDHash(_ callID: String) -> UInt32 {
        var hash: UInt64 = 0
        for byte in callID.utf8 {
            let signed = Int32(Int8(bitPattern: byte))
            hash = hash &+ UInt64(UInt32(bitPattern: signed))
            hash = hash &* 38501
        }
        if hash == 0 { hash = UInt64.max }
        return UInt32(truncatingIfNeeded: hash)
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}
