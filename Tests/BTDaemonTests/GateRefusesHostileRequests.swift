import Foundation
import Testing

@testable import BTDaemon

/// The gate refuses what Transmission refuses, in its order: credentials (401), then the Host whitelist
/// (421), then the CSRF token (409, carrying the right one), then the body size (413).
@Suite struct GateRefusesHostileRequests {
    static func gate(credentials: (String, String)? = nil) -> RPCGate {
        var configuration = RPCGate.Configuration()
        configuration.credentials = credentials
        configuration.allowedHosts = ["seedbox.example"]
        configuration.maximumBodyBytes = 1000
        return RPCGate(configuration: configuration, sessionID: "token")
    }

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    @Test func aMissingOrWrongSessionIDGets409WithTheRightOne() {
        for header in [nil, "", "wrong", "TOKEN"] {
            guard
                case .refuse(409, let headers, _) = Self.gate().admit(
                    host: "127.0.0.1:9091", authorization: nil, sessionIDHeader: header, contentLength: 10)
            else {
                Issue.record("\(String(describing: header)) was not refused with 409")
                continue
            }
            #expect(headers[RPCGate.sessionHeader] == "token")
        }
        #expect(
            Self.gate().admit(host: "localhost:9091", authorization: nil, sessionIDHeader: "token", contentLength: 10)
                == .pass)
    }

    @Test(arguments: [
        ("127.0.0.1", true), ("127.0.0.1:9091", true), ("localhost", true), ("LOCALHOST.:80", true),
        ("[::1]:9091", true), ("10.1.2.3", true), ("seedbox.example:9091", true), ("evil.example", false),
        ("127.0.0.1.evil.example", false), ("localhost:abc", false), ("[::1", false), ("[nope]:1", false),
        ("", false), ("256.1.1.1", false),
    ])
    func theHostWhitelistAllowsLoopbackNamesAndAddressesOnly(host: String, allowed: Bool) {
        let decision = Self.gate().admit(host: host, authorization: nil, sessionIDHeader: "token", contentLength: 1)
        #expect((decision == .pass) == allowed, "\(host)")
        if !allowed, case .refuse(let status, _, _) = decision { #expect(status == 421) }
    }

    @Test func aRequestWithoutHostIsMisdirected() {
        guard
            case .refuse(421, _, _) = Self.gate().admit(
                host: nil, authorization: nil, sessionIDHeader: "token", contentLength: 1)
        else { return #expect(Bool(false)) }
    }

    @Test func wrongCredentialsGet401BeforeAnythingElse() {
        let gate = Self.gate(credentials: ("alice", "s3cret"))
        for authorization in [
            nil, Self.basic("alice", "wrong"), Self.basic("bob", "s3cret"), "Basic !!!", "Bearer x",
            Self.basic("alice", "s3cret") + "x", Self.basic("alice", "s3cre"),
        ] {
            guard
                case .refuse(401, let headers, _) = gate.admit(
                    host: "evil.example", authorization: authorization, sessionIDHeader: nil, contentLength: 1)
            else {
                Issue.record("\(String(describing: authorization)) was not refused with 401")
                continue
            }
            #expect(headers["WWW-Authenticate"]?.hasPrefix("Basic") == true)
        }
        #expect(
            gate.admit(
                host: "localhost", authorization: Self.basic("alice", "s3cret"), sessionIDHeader: "token",
                contentLength: 1) == .pass)
    }

    @Test func anOversizedBodyIsRefusedBeforeItIsRead() {
        #expect(
            Self.gate().admit(host: "localhost", authorization: nil, sessionIDHeader: "token", contentLength: 1001)
                == RPCGate.tooLarge)
        #expect(
            Self.gate().admit(host: "localhost", authorization: nil, sessionIDHeader: "token", contentLength: 1000)
                == .pass)
    }

    @Test func eachRunHasItsOwnSessionID() {
        let first = RPCGate(configuration: .init()).sessionID
        let second = RPCGate(configuration: .init()).sessionID
        #expect(first.count == 48 && first != second)
    }
}
