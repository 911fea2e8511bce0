import Testing
@testable import EventBus

@Suite struct EventTypeTests {
    @Test(arguments: ["provider.connected", "a", "workflow.node_entered", "a*.b", "x>.y", "stream.chunk.v2", "ünïcode.ok"])
    func validNamesAreAccepted(name: String) throws {
        #expect(try EventType(validating: name).name == name)
    }

    @Test(arguments: [
        ("", EventNameError.Code.empty),
        (".a", .emptyToken), ("a.", .emptyToken), ("a..b", .emptyToken), (".", .emptyToken),
        ("a.*", .wildcardInType), ("*", .wildcardInType), ("a.>", .wildcardInType), (">", .wildcardInType),
        ("_mesh.probe", .reserved), ("_x", .reserved),
        ("a b", .invalidCharacter), ("a\tb", .invalidCharacter), ("a\u{7F}", .invalidCharacter),
        (String(repeating: "a", count: 256), .tooLong),
    ])
    func invalidNamesAreRejectedWithTheirReason(name: String, code: EventNameError.Code) {
        #expect {
            try EventType(validating: name)
        } throws: { error in
            guard let error = error as? EventNameError else { return false }
            return error.code == code && error.name == name && !error.message.isEmpty
        }
    }

    @Test func builtinTypesExist() {
        #expect(EventType.handlerError.name == "handler.error")
        #expect(EventType.workflowNodeEntered.name == "workflow.node_entered")
        #expect(EventType.systemInit.name == "system.init")
        #expect(EventType.providerConnected.name == "provider.connected")
    }

    @Test(arguments: [
        ("provider.>.x", EventNameError.Code.misplacedFullWildcard), ("a.>.b", .misplacedFullWildcard),
        ("", .empty), ("a..*", .emptyToken), ("_mesh.>", .reserved), ("a *", .invalidCharacter),
    ])
    func invalidPatternsAreRejected(pattern: String, code: EventNameError.Code) {
        #expect {
            try EventPattern(validating: pattern)
        } throws: { error in
            (error as? EventNameError)?.code == code
        }
    }

    @Test(arguments: [
        // pattern, type, matches
        ("provider.connected", "provider.connected", true),
        ("provider.connected", "provider.connected.x", false),
        ("provider.connected", "provider", false),
        ("provider.*", "provider.connected", true),
        ("provider.*", "provider", false),
        ("provider.*", "provider.a.b", false),
        ("provider.>", "provider.connected", true),
        ("provider.>", "provider.a.b", true),
        ("provider.>", "provider", false),
        ("provider.>", "providers.a", false),
        ("*.connected", "provider.connected", true),
        ("*.connected", "provider.disconnected", false),
        ("*", "provider", true),
        ("*", "provider.connected", false),
        ("*.*", "a.b", true),
        (">", "a", true),
        (">", "a.b.c", true),
        ("a.*.c", "a.b.c", true),
        ("a.*.c", "a.b.d", false),
        ("a.*.>", "a.b", false),
        ("a.*.>", "a.b.c.d", true),
        ("a*.b", "a*.b", true),
        ("a*.b", "ax.b", false),
        ("a.b>", "a.b>", true),
        ("a.b>", "a.bc", false),
    ])
    func patternsMatchLikeNATS(pattern: String, type: String, expected: Bool) throws {
        let parsed = try EventPattern(validating: pattern)
        #expect(parsed.matches(EventType(unchecked: type)) == expected)
    }

    @Test func exactPatternsNameTheirType() {
        #expect(EventPattern(.streamStarted).exactType == .streamStarted)
        #expect(EventPattern("stream.*").exactType == nil)
        #expect(EventPattern.all.text == ">")
    }
}
