/// The answer to an ``RPCRequest``, rendered in the request's form (`docs/rpc-spec.md` §2.2 for the
/// original one: `{"arguments": {...}, "result": "success", "tag": 7}`; JSON-RPC 2.0 `result` or `error`
/// objects for the other).
public struct RPCResponse: Sendable, Hashable {
    /// What the answer is.
    public enum Outcome: Sendable, Hashable {
        /// Success with the method's arguments, spelled as the original protocol spells them.
        case success([String: JSONValue])
        /// Failure: the error's code selects the JSON-RPC code, its reason is Transmission's result string.
        case failure(DaemonError)
    }

    /// What the answer is.
    public var outcome: Outcome
    /// The form of the request answered.
    public var form: RPCRequest.Form

    /// An answer.
    public init(_ outcome: Outcome, form: RPCRequest.Form) {
        self.outcome = outcome
        self.form = form
    }

    /// The `result` string of the original form: `success`, or the failure's reason.
    public var result: String {
        switch outcome {
        case .success: return "success"
        case .failure(let error): return error.reason
        }
    }

    /// The JSON body; nil for a JSON-RPC notification, which gets no answer.
    public var body: JSONValue? {
        switch form {
        case .legacy(let tag):
            var top: [String: JSONValue] = ["result": .string(result)]
            if case .success(let arguments) = outcome {
                top["arguments"] = .object(arguments)
            } else {
                top["arguments"] = .object([:])
            }
            if let tag { top["tag"] = tag }
            return .object(top)
        case .jsonRPC(let id):
            guard let id else { return nil }
            switch outcome {
            case .success(let arguments):
                return ["jsonrpc": "2.0", "id": id, "result": RPCKeys.snakeKeys(.object(arguments))]
            case .failure(let error):
                return [
                    "jsonrpc": "2.0", "id": id,
                    "error": ["code": .int(Self.jsonRPCCode(error.code)), "message": .string(error.reason)],
                ]
            }
        }
    }

    /// The JSON-RPC 2.0 error code of a daemon error code.
    static func jsonRPCCode(_ code: DaemonError.Code) -> Int64 {
        switch code {
        case .malformedJSON: return -32700
        case .invalidRequest: return -32600
        case .unknownMethod: return -32601
        case .invalidArgument: return -32602
        default: return -32000
        }
    }
}
