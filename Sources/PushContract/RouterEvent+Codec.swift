/// JSON bodies of the router events (docs/contract.md §2.1–2.4).
extension RouterEvent {
    package static func decode(type: RecordType, header: RecordHeader, _ r: JSONObjectReader) throws(ContractError) -> RouterEvent {
        switch type {
        case .branchUnanswered: .branchUnanswered(try BranchUnanswered(header: header, r))
        case .branchResponse:
            .branchResponse(BranchResponse(
                header: header, callId: try r.string("callId"), branch: try r.string("branch"),
                status: Int(try r.integer("status", in: 100...699))))
        case .callEnded:
            .callEnded(CallEnded(header: header, callId: try r.string("callId"), reason: try r.enumeration("reason")))
        case .registrationUpdated:
            .registrationUpdated(RegistrationUpdated(
                header: header, aor: try r.string("aor"), contact: try r.string("contact"),
                instanceId: try r.optionalString("instanceId"), callId: try r.string("callId"),
                expires: Int(try r.integer("expires", in: 0...Int64(Int32.max))),
                updatedAt: try r.time("updatedAt")))
        case .pushOutcome, .deadLetter, .pushSchedule:
            throw ContractError(field: "type", problem: "\"\(type.rawValue)\" is not a router event")
        }
    }
}

extension BranchUnanswered {
    init(header: RecordHeader, _ r: JSONObjectReader) throws(ContractError) {
        let from = try r.object("from")
        let to = try r.object("to")
        self.init(
            header: header,
            callId: try r.string("callId"),
            branch: try r.string("branch"),
            method: try r.string("method"),
            requestUri: try r.string("requestUri"),
            from: SIPAddress(uri: try from.string("uri"), displayName: try from.optionalString("displayName"), tag: try from.optionalString("tag")),
            to: SIPAddress(uri: try to.string("uri"), displayName: try to.optionalString("displayName"), tag: try to.optionalString("tag")),
            headers: SIPHeaders(try r.optionalObject("headers", indexed: false)?.stringMembers() ?? []),
            body: try r.optionalString("body"),
            instanceId: try r.optionalString("instanceId"),
            messageId: try r.optionalString("messageId"),
            chatRoomAddr: try r.optionalString("chatRoomAddr"),
            isGroupChatInvite: try r.optionalBool("isGroupChatInvite") ?? false,
            forkTimeout: try r.optionalInteger("forkTimeout", in: 0...Int64(Int32.max)).map { Int($0) })
    }
}

extension RecordEncoder {
    public static func encode(_ event: RouterEvent) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        switch event {
        case .branchUnanswered(let e):
            w.recordHeader(type: "branch.unanswered", e.header)
            w.member("callId", e.callId)
            w.member("branch", e.branch)
            w.member("method", e.method)
            w.member("requestUri", e.requestUri)
            w.key("from")
            w.address(e.from)
            w.key("to")
            w.address(e.to)
            if !e.headers.fields.isEmpty {
                w.key("headers")
                w.beginObject()
                for field in e.headers.fields {
                    w.key(field.name)
                    w.value(field.value)
                }
                w.endObject()
            }
            w.member("body", e.body)
            w.member("instanceId", e.instanceId)
            w.member("messageId", e.messageId)
            w.member("chatRoomAddr", e.chatRoomAddr)
            if e.isGroupChatInvite {
                w.key("isGroupChatInvite")
                w.value(true)
            }
            w.member("forkTimeout", e.forkTimeout)
        case .branchResponse(let e):
            w.recordHeader(type: "branch.response", e.header)
            w.member("callId", e.callId)
            w.member("branch", e.branch)
            w.member("status", e.status)
        case .callEnded(let e):
            w.recordHeader(type: "call.ended", e.header)
            w.member("callId", e.callId)
            w.member("reason", e.reason.rawValue)
        case .registrationUpdated(let e):
            w.recordHeader(type: "registration.updated", e.header)
            w.member("aor", e.aor)
            w.member("contact", e.contact)
            w.member("instanceId", e.instanceId)
            w.member("callId", e.callId)
            w.member("expires", e.expires)
            w.member("updatedAt", e.updatedAt)
        }
        w.endObject()
        return w.bytes
    }
}

extension JSONWriter {
    fileprivate mutating func address(_ address: SIPAddress) {
        beginObject()
        member("uri", address.uri)
        member("displayName", address.displayName)
        member("tag", address.tag)
        endObject()
    }
}
